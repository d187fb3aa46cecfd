// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import java.util.Objects;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension giving each test a fresh {@link LocalNucleus} (started before the test, closed after it) and
 * injecting it into test and lifecycle method parameters of type {@code LocalNucleus}.
 *
 * <p>Either register it in a field:
 *
 * <pre>{@code
 * @RegisterExtension
 * static LocalNucleusExtension nucleus = LocalNucleusExtension.forComponent("com.example.Forwarder").policy(POLICY);
 *
 * @Test
 * void forwards(LocalNucleus n) { ... n.waitForPublish("telemetry/#") ... }
 * }</pre>
 *
 * or with {@code @ExtendWith(LocalNucleusExtension.class)} and a {@link TestComponent} annotation on the class.
 */
public final class LocalNucleusExtension implements BeforeEachCallback, AfterEachCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LocalNucleusExtension.class);

    private final String component;
    private String policy;
    private UnaryOperator<LocalNucleus.Builder> customize = UnaryOperator.identity();

    /** For {@code @ExtendWith}: the component comes from the test class's {@link TestComponent}. */
    public LocalNucleusExtension() {
        this.component = null;
    }

    private LocalNucleusExtension(String component) {
        this.component = Objects.requireNonNull(component, "component");
    }

    /** An extension serving {@code component}. */
    public static LocalNucleusExtension forComponent(String component) {
        return new LocalNucleusExtension(component);
    }

    /** The component's {@code accessControl} as JSON. */
    public LocalNucleusExtension policy(String accessControlJson) {
        this.policy = accessControlJson;
        return this;
    }

    /** Further settings applied to each nucleus' builder (spool size, configuration, ...). */
    public LocalNucleusExtension configure(UnaryOperator<LocalNucleus.Builder> customize) {
        this.customize = Objects.requireNonNull(customize);
        return this;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        LocalNucleus.Builder b;
        if (component != null) {
            b = LocalNucleus.builder(component).policy(policy);
        } else {
            TestComponent tc = context.getRequiredTestClass().getAnnotation(TestComponent.class);
            if (tc == null) {
                throw new ExtensionConfigurationException("@ExtendWith(LocalNucleusExtension.class) needs @TestComponent"
                        + " on " + context.getRequiredTestClass().getName()
                        + " (or register LocalNucleusExtension.forComponent(...) with @RegisterExtension)");
            }
            b = LocalNucleus.builder(tc.name());
            if (!tc.policy().isEmpty()) {
                b.policy(tc.policy());
            }
            if (!tc.configuration().isEmpty()) {
                b.configuration(tc.configuration());
            }
        }
        LocalNucleus n = customize.apply(b).start();
        context.getStore(NS).put(LocalNucleus.class, n);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        LocalNucleus n = context.getStore(NS).remove(LocalNucleus.class, LocalNucleus.class);
        if (n != null) {
            n.close();
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == LocalNucleus.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        LocalNucleus n = context.getStore(NS).get(LocalNucleus.class, LocalNucleus.class);
        if (n == null) {
            throw new ExtensionConfigurationException("no LocalNucleus is running: parameters of type LocalNucleus"
                    + " are available to @Test, @BeforeEach and @AfterEach methods");
        }
        return n;
    }
}
