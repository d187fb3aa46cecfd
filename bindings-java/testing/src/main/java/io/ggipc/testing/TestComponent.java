// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The component a test class's {@link LocalNucleusExtension} (used with {@code @ExtendWith}) serves: its name and
 * its recipe's {@code accessControl} as JSON.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
public @interface TestComponent {
    /** The component name. */
    String name();

    /** Its {@code accessControl} as JSON; empty: no policy (every IoT Core request refused). */
    String policy() default "";

    /** Its configuration as JSON; empty: {@code {}}. */
    String configuration() default "";
}
