package io.ggipc.internal;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Writes JSON as UTF-8 bytes, for the generated model classes. Not API. Documents are {@code Map<String, Object>},
 * {@code List}, {@code String}, numbers, {@code Boolean} and {@code null}; blobs are base64; timestamps are epoch
 * seconds.
 *
 * <p>A writer made by {@link #forNative} writes a request for the native library instead: each blob is the byte
 * {@code 0x00}, its length (4 bytes, big-endian) and its bytes, and the native side writes the base64 (a
 * {@code 0x00} byte never occurs in JSON text, so the form is unambiguous).
 */
public final class JsonWriter {
    private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** Starts a raw blob in the native form. */
    static final byte RAW_BLOB = 0;
    private byte[] buf;
    private int len;
    private boolean comma;
    private final boolean rawBlobs;

    public JsonWriter() {
        this(128);
    }

    public JsonWriter(int capacity) {
        this(capacity, false);
    }

    private JsonWriter(int capacity, boolean rawBlobs) {
        buf = new byte[Math.max(16, capacity)];
        this.rawBlobs = rawBlobs;
    }

    /** A writer of a request body for the native library: blobs go as their bytes (see the class comment). */
    public static JsonWriter forNative() {
        return new JsonWriter(128, true);
    }

    /** The bytes written so far. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buf, len);
    }

    /** The buffer written into (its first {@link #length} bytes are the text; no copy). */
    byte[] buffer() {
        return buf;
    }

    /** The number of bytes written so far. */
    int length() {
        return len;
    }

    private void room(int n) {
        if (len + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
        }
    }

    private void raw(char c) {
        room(1);
        buf[len++] = (byte) c;
    }

    private void raw(String ascii) {
        int n = ascii.length();
        room(n);
        for (int i = 0; i < n; i++) {
            buf[len++] = (byte) ascii.charAt(i);
        }
    }

    /** Writes the separator a value needs at this position. */
    private void sep() {
        if (comma) {
            raw(',');
        }
        comma = true;
    }

    public void beginObject() {
        sep();
        raw('{');
        comma = false;
    }

    public void endObject() {
        raw('}');
        comma = true;
    }

    public void beginArray() {
        sep();
        raw('[');
        comma = false;
    }

    public void endArray() {
        raw(']');
        comma = true;
    }

    /** A member name; the member's value follows. */
    public void name(String name) {
        sep();
        quoted(name);
        raw(':');
        comma = false;
    }

    public void nullValue() {
        sep();
        raw("null");
    }

    public void value(String s) {
        if (s == null) {
            nullValue();
            return;
        }
        sep();
        quoted(s);
    }

    public void value(Boolean b) {
        if (b == null) {
            nullValue();
            return;
        }
        sep();
        raw(b ? "true" : "false");
    }

    public void value(Long n) {
        if (n == null) {
            nullValue();
            return;
        }
        sep();
        raw(Long.toString(n));
    }

    public void value(Double d) {
        if (d == null) {
            nullValue();
            return;
        }
        sep();
        number(d);
    }

    private void number(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            throw new IllegalArgumentException("JSON has no representation of " + d);
        }
        raw(Double.toString(d));
    }

    /**
     * Room to leave after a large blob for the members that follow, so that they do not regrow (and copy) the
     * buffer; a small blob needs none (the buffer doubles).
     */
    private static int slack(int blobLength) {
        return blobLength >= 4096 ? 256 : 0;
    }

    /** A blob, as a base64 string (as its bytes in a writer {@link #forNative}). */
    public void blob(byte[] b) {
        if (b == null) {
            nullValue();
            return;
        }
        sep();
        if (rawBlobs) {
            int n = b.length;
            room(n + 5 + slack(n));
            buf[len++] = RAW_BLOB;
            buf[len++] = (byte) (n >>> 24);
            buf[len++] = (byte) (n >>> 16);
            buf[len++] = (byte) (n >>> 8);
            buf[len++] = (byte) n;
            System.arraycopy(b, 0, buf, len, n);
            len += n;
            return;
        }
        byte[] enc = Base64.getEncoder().encode(b);
        room(enc.length + 2 + slack(enc.length));
        buf[len++] = '"';
        System.arraycopy(enc, 0, buf, len, enc.length);
        len += enc.length;
        buf[len++] = '"';
    }

    /** A timestamp, as epoch seconds (with a fraction when it has one). */
    public void instant(Instant t) {
        if (t == null) {
            nullValue();
            return;
        }
        sep();
        if (t.getNano() == 0) {
            raw(Long.toString(t.getEpochSecond()));
        } else {
            raw(BigDecimal.valueOf(t.getEpochSecond()).add(BigDecimal.valueOf(t.getNano(), 9))
                    .stripTrailingZeros().toPlainString());
        }
    }

    /** A list, each element written by {@code element} (null elements as JSON null). */
    public <T> void list(List<T> items, BiConsumer<JsonWriter, T> element) {
        if (items == null) {
            nullValue();
            return;
        }
        beginArray();
        for (T item : items) {
            if (item == null) {
                nullValue();
            } else {
                element.accept(this, item);
            }
        }
        endArray();
    }

    /** Any JSON value: a map, a collection, a string, a number, a boolean or null. */
    public void document(Object v) {
        if (v == null) {
            nullValue();
        } else if (v instanceof String) {
            value((String) v);
        } else if (v instanceof Boolean) {
            value((Boolean) v);
        } else if (v instanceof Double || v instanceof Float) {
            sep();
            number(((Number) v).doubleValue());
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            sep();
            raw(Long.toString(((Number) v).longValue()));
        } else if (v instanceof BigDecimal) {
            sep();
            raw(((BigDecimal) v).toString());
        } else if (v instanceof Number) {
            sep();
            number(((Number) v).doubleValue());
        } else if (v instanceof Map) {
            beginObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                name(String.valueOf(e.getKey()));
                document(e.getValue());
            }
            endObject();
        } else if (v instanceof Collection) {
            beginArray();
            for (Object o : (Collection<?>) v) {
                document(o);
            }
            endArray();
        } else if (v instanceof byte[]) {
            blob((byte[]) v);
        } else {
            throw new IllegalArgumentException("not a JSON document value: " + v.getClass().getName());
        }
    }

    private void quoted(String s) {
        int n = s.length();
        room(n + 2);
        buf[len++] = '"';
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                if (len == buf.length) {
                    room(1);
                }
                buf[len++] = (byte) c;
            } else {
                i = slow(s, i);
            }
        }
        room(1);
        buf[len++] = '"';
    }

    /** Writes the character at {@code i} (escaped or UTF-8 encoded); returns the index of its last char. */
    private int slow(String s, int i) {
        char c = s.charAt(i);
        room(12);
        switch (c) {
            case '"':
                buf[len++] = '\\';
                buf[len++] = '"';
                return i;
            case '\\':
                buf[len++] = '\\';
                buf[len++] = '\\';
                return i;
            case '\n':
                buf[len++] = '\\';
                buf[len++] = 'n';
                return i;
            case '\r':
                buf[len++] = '\\';
                buf[len++] = 'r';
                return i;
            case '\t':
                buf[len++] = '\\';
                buf[len++] = 't';
                return i;
            default:
                break;
        }
        if (c < 0x20) {
            buf[len++] = '\\';
            buf[len++] = 'u';
            buf[len++] = '0';
            buf[len++] = '0';
            buf[len++] = HEX[c >> 4];
            buf[len++] = HEX[c & 0xf];
            return i;
        }
        int cp = c;
        int last = i;
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            cp = Character.toCodePoint(c, s.charAt(i + 1));
            last = i + 1;
        } else if (Character.isSurrogate(c)) {
            cp = 0xFFFD;
        }
        if (cp < 0x800) {
            buf[len++] = (byte) (0xC0 | (cp >> 6));
            buf[len++] = (byte) (0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[len++] = (byte) (0xE0 | (cp >> 12));
            buf[len++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            buf[len++] = (byte) (0x80 | (cp & 0x3F));
        } else {
            buf[len++] = (byte) (0xF0 | (cp >> 18));
            buf[len++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
            buf[len++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            buf[len++] = (byte) (0x80 | (cp & 0x3F));
        }
        return last;
    }
}
