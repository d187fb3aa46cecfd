package io.ggipc.internal;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.MessagesDroppedException;
import io.ggipc.eventstreamrpc.OperationResponse;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The generic operation machinery the generated clients call: a request goes to the native library as the
 * operation's name and the request's JSON; the response (and each stream event) comes back as JSON and is read
 * by the generated model class. Not API.
 */
public final class Operations {
    private Operations() {}

    /**
     * A request body for the native library, written by {@code write} (a model class's {@code writeJson}): blobs
     * go as their bytes and the native side writes their base64 (see {@link JsonWriter#forNative}).
     */
    public static Body body(Consumer<JsonWriter> write) {
        JsonWriter w = JsonWriter.forNative();
        write.accept(w);
        return new Body(w.buffer(), w.length());
    }

    /**
     * A request body for the native library: the first {@code length} bytes of {@code bytes}, the writer's own
     * buffer (not trimmed to a copy of its length: the native side reads the array in place).
     */
    public static final class Body {
        final byte[] bytes;
        final int length;

        Body(byte[] bytes, int length) {
            this.bytes = bytes;
            this.length = length;
        }
    }

    private static <T> CompletableFuture<T> failed(Throwable e) {
        CompletableFuture<T> f = new CompletableFuture<>();
        f.completeExceptionally(e);
        return f;
    }

    /** A request/response operation, waiting on the calling thread; throws the mapped error. */
    public static <R> R call(EventStreamRPCConnection connection, String operation, Supplier<Body> request,
            Function<byte[], R> response) {
        NativeClient c = connection.nativeClient();
        return response.apply(c.call(operation, request.get()));
    }

    /**
     * A request/response operation, returning at once. {@code handler} (V1 only; may be null or empty) is told
     * {@code onStreamClosed} when the operation ends, as the operation has no stream events.
     */
    public static <R extends EventStreamJsonMessage> OperationResponse<R, EventStreamJsonMessage> callAsync(
            EventStreamRPCConnection connection, String operation, Supplier<Body> request,
            Function<byte[], R> response, Optional<StreamResponseHandler<EventStreamJsonMessage>> handler) {
        CompletableFuture<R> f;
        try {
            f = connection.nativeClient().callAsync(operation, request.get(), response);
        } catch (RuntimeException e) {
            f = failed(e);
        }
        if (handler != null && handler.isPresent()) {
            StreamResponseHandler<EventStreamJsonMessage> h = handler.get();
            f.whenComplete((r, e) -> h.onStreamClosed());
        }
        return new OperationResponse<>(f, null);
    }

    /** A streaming operation, waiting on the calling thread for the server to accept it; throws the mapped error. */
    public static <R extends EventStreamJsonMessage, E> OperationResponse<R, EventStreamJsonMessage> stream(
            EventStreamRPCConnection connection, String operation, Supplier<Body> request,
            Function<byte[], R> response, Function<byte[], E> event, StreamResponseHandler<E> handler,
            Executor executor) {
        NativeClient c = connection.nativeClient();
        StreamBridge<E> bridge = new StreamBridge<>(handler, event, executor);
        NativeSubscription sub = c.stream(operation, request.get(), bridge);
        return new OperationResponse<>(CompletableFuture.completedFuture(response.apply(null)), sub);
    }

    /** A streaming operation, returning at once; the response future completes when the server accepted it. */
    public static <R extends EventStreamJsonMessage, E> OperationResponse<R, EventStreamJsonMessage> streamAsync(
            EventStreamRPCConnection connection, String operation, Supplier<Body> request,
            Function<byte[], R> response, Function<byte[], E> event, StreamResponseHandler<E> handler,
            Executor executor) {
        StreamBridge<E> bridge = new StreamBridge<>(handler, event, executor);
        NativeFuture<R> f = new NativeFuture<>(response);
        NativeSubscription sub = null;
        try {
            sub = connection.nativeClient().streamAsync(operation, request.get(), bridge, f);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return new OperationResponse<>(f, sub);
    }

    /** Waits for a future, throwing its failure as it is (unchecked). */
    public static <T> T await(CompletableFuture<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            throw new RuntimeException(c);
        }
    }

    /** The V2 client's lambdas as a stream handler. */
    public static <E> StreamResponseHandler<E> lambdas(Consumer<E> onStreamEvent,
            Optional<Function<Throwable, Boolean>> onStreamError, Optional<Runnable> onStreamClosed) {
        return new StreamResponseHandler<E>() {
            @Override
            public void onStreamEvent(E event) {
                onStreamEvent.accept(event);
            }

            @Override
            public boolean onStreamError(Throwable error) {
                if (onStreamError != null && onStreamError.isPresent()) {
                    Boolean close = onStreamError.get().apply(error);
                    return close != null && close;
                }
                // Without an error callback: close on stream errors, but not because messages were dropped.
                return !(error instanceof MessagesDroppedException);
            }

            @Override
            public void onStreamClosed() {
                if (onStreamClosed != null) {
                    onStreamClosed.ifPresent(Runnable::run);
                }
            }
        };
    }
}
