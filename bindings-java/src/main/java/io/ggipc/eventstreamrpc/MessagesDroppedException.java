package io.ggipc.eventstreamrpc;

/**
 * Passed to {@link StreamResponseHandler#onStreamError} when the handler did not keep up and the library dropped
 * messages of this subscription (its queue is bounded). The stream is still open; return {@code false} to keep it.
 */
public class MessagesDroppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long dropped;

    public MessagesDroppedException(long dropped) {
        super(dropped + " message(s) dropped: the stream handler did not keep up");
        this.dropped = dropped;
    }

    /** How many messages were dropped since the previous report. */
    public long getDropped() {
        return dropped;
    }
}
