package io.ggipc.internal;

import io.ggipc.eventstreamrpc.ErrorCode;
import io.ggipc.eventstreamrpc.EventStreamRPCException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Reads JSON from UTF-8 bytes, for the generated model classes: a pull reader over the bytes, no intermediate
 * tree. Not API. Every {@code nextX} accepts JSON {@code null} (and returns {@code null}). Malformed input fails
 * with an {@link EventStreamRPCException} of kind {@link ErrorCode#UNMAPPED}.
 */
public final class JsonReader {
    private final byte[] b;
    private int pos;

    public JsonReader(byte[] json) {
        this.b = json;
    }

    private EventStreamRPCException error(String what) {
        return new EventStreamRPCException(ErrorCode.UNMAPPED, "invalid JSON at byte " + pos + ": " + what);
    }

    private int peek() {
        while (pos < b.length) {
            byte c = b[pos];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                pos++;
            } else {
                return c;
            }
        }
        return -1;
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    /** Fails unless only whitespace is left. */
    public void end() {
        if (peek() != -1) {
            throw error("unexpected data after the value");
        }
    }

    /** If the next value is {@code null}, consumes it and returns true. */
    public boolean nextNull() {
        if (peek() == 'n') {
            literal("null");
            return true;
        }
        return false;
    }

    private void literal(String word) {
        int n = word.length();
        if (pos + n > b.length) {
            throw error("expected " + word);
        }
        for (int i = 0; i < n; i++) {
            if (b[pos + i] != word.charAt(i)) {
                throw error("expected " + word);
            }
        }
        pos += n;
    }

    public void beginObject() {
        expect('{');
    }

    /** The next member name of the current object, or {@code null} (consuming the '}') at its end. */
    public String nextName() {
        int c = peek();
        if (c == '}') {
            pos++;
            return null;
        }
        if (c == ',') {
            pos++;
            c = peek();
        }
        if (c != '"') {
            throw error("expected a member name");
        }
        String name = string();
        expect(':');
        return name;
    }

    /** Whether the current array has another element (consumes the ']' at its end). */
    private boolean nextElement() {
        int c = peek();
        if (c == ']') {
            pos++;
            return false;
        }
        if (c == ',') {
            pos++;
        }
        return true;
    }

    public String nextString() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        if (c != '"') {
            throw error("expected a string");
        }
        return string();
    }

    /** Reads a string at {@code pos} (which is its opening quote). */
    private String string() {
        int start = ++pos;
        for (int i = start; i < b.length; i++) {
            byte c = b[i];
            if (c == '"') {
                pos = i + 1;
                return new String(b, start, i - start, StandardCharsets.ISO_8859_1);
            }
            if (c == '\\' || c < 0) {
                return slowString(start);
            }
        }
        throw error("unterminated string");
    }

    private String slowString(int start) {
        StringBuilder sb = new StringBuilder();
        int i = start;
        int run = start;
        while (i < b.length) {
            byte c = b[i];
            if (c == '"') {
                sb.append(new String(b, run, i - run, StandardCharsets.UTF_8));
                pos = i + 1;
                return sb.toString();
            }
            if (c == '\\') {
                sb.append(new String(b, run, i - run, StandardCharsets.UTF_8));
                if (i + 1 >= b.length) {
                    break;
                }
                byte e = b[i + 1];
                i += 2;
                switch (e) {
                    case '"':
                        sb.append('"');
                        break;
                    case '\\':
                        sb.append('\\');
                        break;
                    case '/':
                        sb.append('/');
                        break;
                    case 'b':
                        sb.append('\b');
                        break;
                    case 'f':
                        sb.append('\f');
                        break;
                    case 'n':
                        sb.append('\n');
                        break;
                    case 'r':
                        sb.append('\r');
                        break;
                    case 't':
                        sb.append('\t');
                        break;
                    case 'u':
                        if (i + 4 > b.length) {
                            pos = i;
                            throw error("bad \\u escape");
                        }
                        try {
                            sb.append((char) Integer.parseInt(new String(b, i, 4, StandardCharsets.US_ASCII), 16));
                        } catch (NumberFormatException ex) {
                            pos = i;
                            throw error("bad \\u escape");
                        }
                        i += 4;
                        break;
                    default:
                        pos = i;
                        throw error("bad escape");
                }
                run = i;
            } else {
                i++;
            }
        }
        pos = i;
        throw error("unterminated string");
    }

    public Boolean nextBoolean() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        if (c == 't') {
            literal("true");
            return Boolean.TRUE;
        }
        if (c == 'f') {
            literal("false");
            return Boolean.FALSE;
        }
        throw error("expected a boolean");
    }

    /** The span of the number at the current position. */
    private int numberEnd() {
        int i = pos;
        while (i < b.length) {
            byte c = b[i];
            if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
                i++;
            } else {
                break;
            }
        }
        if (i == pos) {
            throw error("expected a number");
        }
        return i;
    }

    public Long nextLong() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        int end = numberEnd();
        long v = 0;
        int i = pos;
        boolean neg = b[i] == '-';
        if (neg) {
            i++;
        }
        boolean plain = i < end && end - i <= 18;
        for (int j = i; plain && j < end; j++) {
            byte d = b[j];
            if (d < '0' || d > '9') {
                plain = false;
            } else {
                v = v * 10 + (d - '0');
            }
        }
        if (plain) {
            pos = end;
            return neg ? -v : v;
        }
        String text = new String(b, pos, end - pos, StandardCharsets.US_ASCII);
        try {
            long r = new BigDecimal(text).longValue();
            pos = end;
            return r;
        } catch (NumberFormatException e) {
            throw error("bad number " + text);
        }
    }

    public Double nextDouble() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        int end = numberEnd();
        String text = new String(b, pos, end - pos, StandardCharsets.US_ASCII);
        try {
            double d = Double.parseDouble(text);
            pos = end;
            return d;
        } catch (NumberFormatException e) {
            throw error("bad number " + text);
        }
    }

    /** A timestamp in epoch seconds (fractions kept to the nanosecond). */
    public Instant nextInstant() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        int end = numberEnd();
        String text = new String(b, pos, end - pos, StandardCharsets.US_ASCII);
        try {
            BigDecimal s = new BigDecimal(text);
            long secs = s.setScale(0, java.math.RoundingMode.FLOOR).longValueExact();
            long nanos = s.subtract(BigDecimal.valueOf(secs)).movePointRight(9)
                    .setScale(0, java.math.RoundingMode.HALF_EVEN).longValue();
            pos = end;
            return Instant.ofEpochSecond(secs, nanos);
        } catch (ArithmeticException | NumberFormatException e) {
            throw error("bad timestamp " + text);
        }
    }

    /**
     * A blob: a base64 string, or in a body from the native library, the blob's bytes as {@link JsonWriter}
     * describes them (decoded there).
     */
    public byte[] nextBlob() {
        int c = peek();
        if (c == 'n') {
            literal("null");
            return null;
        }
        if (c == JsonWriter.RAW_BLOB) {
            return rawBlob();
        }
        if (c != '"') {
            throw error("expected a base64 string");
        }
        int start = pos + 1;
        int i = start;
        while (i < b.length && b[i] != '"' && b[i] != '\\') {
            i++;
        }
        try {
            if (i < b.length && b[i] == '"') {
                pos = i + 1;
                if (i == start) {
                    return new byte[0];
                }
                ByteBuffer out = Base64.getDecoder().decode(ByteBuffer.wrap(b, start, i - start));
                byte[] a = out.array();
                return out.arrayOffset() == 0 && out.limit() == a.length ? a
                        : Arrays.copyOfRange(a, out.arrayOffset(), out.arrayOffset() + out.limit());
            }
            return Base64.getDecoder().decode(string());
        } catch (IllegalArgumentException e) {
            throw error("bad base64: " + e.getMessage());
        }
    }

    /** A list, each element read by {@code element}. */
    public <T> List<T> nextList(Function<JsonReader, T> element) {
        if (nextNull()) {
            return null;
        }
        expect('[');
        List<T> out = new ArrayList<>();
        while (nextElement()) {
            out.add(element.apply(this));
        }
        return out;
    }

    /** A document that the model types as an object ({@code null} when the value is not an object). */
    @SuppressWarnings("unchecked")
    public Map<String, Object> nextDocumentMap() {
        Object v = nextDocument();
        return v instanceof Map ? (Map<String, Object>) v : null;
    }

    /** Any JSON value: {@code Map<String,Object>} (ordered), {@code List}, {@code String}, {@code Double}, {@code Boolean} or null. */
    public Object nextDocument() {
        int c = peek();
        switch (c) {
            case '{': {
                pos++;
                Map<String, Object> m = new LinkedHashMap<>();
                for (String n; (n = nextName()) != null;) {
                    m.put(n, nextDocument());
                }
                return m;
            }
            case '[': {
                pos++;
                List<Object> l = new ArrayList<>();
                while (nextElement()) {
                    l.add(nextDocument());
                }
                return l;
            }
            case '"':
                return string();
            case 't':
            case 'f':
                return nextBoolean();
            case 'n':
                literal("null");
                return null;
            default:
                return nextDouble();
        }
    }

    /** A raw blob at {@code pos}: the marker, the length, the bytes. */
    private byte[] rawBlob() {
        if (pos + 5 > b.length) {
            throw error("truncated blob");
        }
        int n = ((b[pos + 1] & 0xff) << 24) | ((b[pos + 2] & 0xff) << 16) | ((b[pos + 3] & 0xff) << 8)
                | (b[pos + 4] & 0xff);
        int start = pos + 5;
        if (n < 0 || n > b.length - start) {
            throw error("truncated blob");
        }
        pos = start + n;
        return Arrays.copyOfRange(b, start, start + n);
    }

    /** Skips one value of any kind. */
    public void skipValue() {
        int c = peek();
        switch (c) {
            case JsonWriter.RAW_BLOB:
                rawBlob();
                return;
            case '{':
                pos++;
                while (nextName() != null) {
                    skipValue();
                }
                return;
            case '[':
                pos++;
                while (nextElement()) {
                    skipValue();
                }
                return;
            case '"':
                string();
                return;
            case 't':
            case 'f':
                nextBoolean();
                return;
            case 'n':
                literal("null");
                return;
            default:
                pos = numberEnd();
        }
    }
}
