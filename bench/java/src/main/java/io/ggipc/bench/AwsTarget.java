package io.ggipc.bench;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import software.amazon.awssdk.aws.greengrass.GreengrassCoreIPCClientV2;
import software.amazon.awssdk.aws.greengrass.model.PublishToIoTCoreRequest;
import software.amazon.awssdk.aws.greengrass.model.QOS;
import software.amazon.awssdk.aws.greengrass.model.SubscribeToIoTCoreRequest;

final class AwsTarget implements Target {
    private final GreengrassCoreIPCClientV2 ipc;

    AwsTarget(String socket, String token) throws Exception {
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
        SubscribeToIoTCoreRequest r = new SubscribeToIoTCoreRequest();
        r.setTopicName(filter);
        r.setQos(QOS.AT_MOST_ONCE);
        ipc.subscribeToIoTCore(r, m -> onPayload.accept(m.getMessage().getPayload()), Optional.empty(),
                Optional.empty());
    }

    @Override
    public void close() throws Exception {
        ipc.close();
    }
}
