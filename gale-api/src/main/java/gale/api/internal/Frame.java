package gale.api.internal;

import java.util.Map;

/**
 * One message of the instance protocol (docs/protocol.md), as the instance sees it.
 *
 * @param type   the type byte: {@code H R F I r E L S}
 * @param header the JSON header object
 * @param body   the raw body, empty for most types
 */
public record Frame(byte type, Map<String, Object> header, byte[] body) {

    public static final byte HELLO = 'H';
    public static final byte READY = 'R';
    public static final byte LOAD_FAILED = 'F';
    public static final byte INVOKE = 'I';
    public static final byte RESPONSE = 'r';
    public static final byte ERROR = 'E';
    public static final byte LOG = 'L';
    public static final byte SHUTDOWN = 'S';

    static final byte[] EMPTY = new byte[0];

    public Frame {
        body = body == null ? EMPTY : body;
    }

    public Frame(byte type, Map<String, Object> header) {
        this(type, header, EMPTY);
    }

    /** A header field as text; empty when absent or null. */
    public String text(String field) {
        Object v = header.get(field);
        return v == null ? "" : v.toString();
    }

    /** A numeric header field; {@code fallback} when absent or not a number. */
    public long number(String field, long fallback) {
        return header.get(field) instanceof Number n ? n.longValue() : fallback;
    }
}
