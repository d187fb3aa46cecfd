package io.ggipc;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.internal.NativeLoader;

/** Run by {@link JarLoadingTest} in a child JVM with only the jar (and this class) on the class path. */
public final class LoadProbe {
    private LoadProbe() {}

    public static void main(String[] args) throws Exception {
        try (GreengrassCoreIPCClientV2 ipc = GreengrassCoreIPCClientV2.builder().build()) {
            System.out.println("loaded from " + NativeLoader.loadedFrom());
            ipc.publishToIoTCore(new PublishToIoTCoreRequest().withTopicName("probe/x").withQos(QOS.AT_MOST_ONCE)
                    .withPayload(new byte[] {1}));
            System.out.println("published");
        }
    }
}
