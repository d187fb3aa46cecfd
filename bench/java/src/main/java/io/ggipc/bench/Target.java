package io.ggipc.bench;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** One client under test; both implementations use the V2 client of their library with its defaults. */
interface Target extends AutoCloseable {
    void publishSync(String topic, byte[] payload) throws Exception;

    CompletableFuture<?> publishAsync(String topic, byte[] payload);

    void subscribe(String filter, Consumer<byte[]> onPayload) throws Exception;

    @Override
    void close() throws Exception;
}
