package io.ggipc.bench;

import io.ggipc.greengrass.GreengrassCoreIPCClientV2;
import io.ggipc.greengrass.model.PublishToIoTCoreRequest;
import io.ggipc.greengrass.model.QOS;
import io.ggipc.greengrass.model.SubscribeToIoTCoreRequest;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

final class GgipcTarget implements Target {
    private final GreengrassCoreIPCClientV2 ipc;

    GgipcTarget(String socket, String token) throws Exception {
        ipc = GreengrassCoreIPCClientV2.builder().withSocketPath(socket).withAuthToken(token).build();
    }

    private static PublishToIoTCoreRequest req(String topic, byte[] payload) {
        return new PublishToIoTCoreRequest().withTopicName(topic).withQos(QOS.AT_MOST_ONCE).withPayload(payload);
    }

    @Override
    public void publishSync(String topic, byte[] payload) throws Exception {
        ipc.publishToIoTCore(req(topic, payload));
    }

    @Override
    public CompletableFuture<?> publishAsync(String topic, byte[] payload) {
        return ipc.publishToIoTCoreAsync(req(topic, payload));
    }

    @Override
    public void subscribe(String filter, Consumer<byte[]> onPayload) throws Exception {
        ipc.subscribeToIoTCore(new SubscribeToIoTCoreRequest().withTopicName(filter).withQos(QOS.AT_MOST_ONCE),
                m -> onPayload.accept(m.getMessage().getPayload()), Optional.empty(), Optional.empty());
    }

    @Override
    public void close() throws Exception {
        ipc.close();
    }
}
