// SPDX-License-Identifier: Apache-2.0
package io.ggipc.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The extension with {@code @ExtendWith} and {@link TestComponent}: a fresh nucleus per test. */
@ExtendWith(LocalNucleusExtension.class)
@TestComponent(name = "com.example.Annotated",
        policy = "{\"aws.greengrass.ipc.mqttproxy\": {\"p\": {\"operations\": [\"*\"], \"resources\": [\"t/#\"]}}}")
class ExtensionTest {
    static String lastSocket;

    void publishAndCheck(LocalNucleus nucleus) throws Exception {
        assertNotEquals(lastSocket, nucleus.getSocketPath());
        lastSocket = nucleus.getSocketPath();
        assertEquals("com.example.Annotated", nucleus.getComponent());
        try (GreengrassCoreIPCClientV2 c = nucleus.clientBuilder().build()) {
            c.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("t/1").withQos(QOS.AT_LEAST_ONCE)
                    .withPayload("x".getBytes(StandardCharsets.UTF_8)));
        }
        assertEquals(1, nucleus.waitForPublishes("t/1", 1, LocalNucleus.DEFAULT_TIMEOUT).size());
    }

    @Test
    void first(LocalNucleus nucleus) throws Exception {
        publishAndCheck(nucleus);
    }

    @Test
    void second(LocalNucleus nucleus) throws Exception {
        publishAndCheck(nucleus);
    }
}
