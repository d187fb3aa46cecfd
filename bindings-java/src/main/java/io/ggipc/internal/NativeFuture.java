package io.ggipc.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * A future completed by the native library with the response JSON (read by the operation's response class), or
 * failed with a mapped error.
 * Completion happens on the library's completer thread; code chained on the future runs there too. Waiting on
 * an unfinished ggipc future from that thread could never end, so it fails at once with an
 * {@link IllegalStateException} instead of hanging.
 */
public final class NativeFuture<T> extends CompletableFuture<T> {
    private static volatile Thread completer;
    private final Function<byte[], T> response;

    /** @param response reads the response JSON ({@code null} for an empty response) */
    public NativeFuture(Function<byte[], T> response) {
        this.response = response;
    }

    @CalledFromNative
    void completeNative(byte[] json) {
        completer = Thread.currentThread();
        T value;
        try {
            value = response.apply(json);
        } catch (RuntimeException e) {
            completeExceptionally(e);
            return;
        }
        complete(value);
    }

    @CalledFromNative
    void failNative(Throwable error) {
        completer = Thread.currentThread();
        completeExceptionally(error);
    }

    private void checkNotCompleter() {
        if (!isDone() && Thread.currentThread() == completer) {
            throw new IllegalStateException("waiting for a ggipc future inside a callback chained on another ggipc "
                    + "future would never end: use thenAccept/thenCompose, the V2 sync methods, or another thread");
        }
    }

    @Override
    public T get() throws InterruptedException, ExecutionException {
        checkNotCompleter();
        return super.get();
    }

    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        checkNotCompleter();
        return super.get(timeout, unit);
    }

    @Override
    public T join() {
        checkNotCompleter();
        return super.join();
    }
}
