package io.ggipc.internal;

import java.util.concurrent.CompletableFuture;

/** A future completed by the native library with a value fixed at creation, or failed with a mapped error. */
public final class NativeFuture<T> extends CompletableFuture<T> {
    private final T value;

    public NativeFuture(T value) {
        this.value = value;
    }

    @CalledFromNative
    void completeNative() {
        complete(value);
    }

    @CalledFromNative
    void failNative(Throwable error) {
        completeExceptionally(error);
    }
}
