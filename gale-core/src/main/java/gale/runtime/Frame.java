package gale.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * One message of the instance protocol (docs/protocol.md): a type byte, a JSON header
 * and a raw body. Bodies are never parsed or copied here beyond the single read/write.
 */
public record Frame(Type type, ObjectNode header, byte[] body) {

    public static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_PART = 1 << 30;
    private static final byte[] EMPTY = new byte[0];

    public enum Type {
        HELLO('H'), READY('R'), LOAD_FAILED('F'), INVOKE('I'), RESPONSE('r'), ERROR('E'), LOG('L'), SHUTDOWN('S'),
        /** A zygote's control message, both ways: the header is the message (docs/protocol.md). */
        CONTROL('C');

        final byte code;

        Type(char code) {
            this.code = (byte) code;
        }

        static Type of(byte code) throws ProtocolException {
            for (Type t : values()) {
                if (t.code == code) return t;
            }
            throw new ProtocolException("unknown frame type 0x" + Integer.toHexString(code & 0xff));
        }
    }

    public Frame {
        body = body == null ? EMPTY : body;
    }

    public static Frame of(Type type, ObjectNode header) {
        return new Frame(type, header, EMPTY);
    }

    public static ObjectNode newHeader() {
        return JSON.createObjectNode();
    }

    /** Writes the whole frame; callers serialise writers so frames never interleave. */
    public void writeTo(WritableByteChannel out) throws IOException {
        byte[] head = JSON.writeValueAsBytes(header);
        ByteBuffer prefix = ByteBuffer.allocate(9 + head.length);
        prefix.put(type.code).putInt(head.length).putInt(body.length).put(head).flip();
        ByteBuffer payload = ByteBuffer.wrap(body);
        while (prefix.hasRemaining()) out.write(prefix);
        while (payload.hasRemaining()) out.write(payload);
    }

    /** Reads one frame; EOFException when the peer closed the connection between frames. */
    public static Frame readFrom(DataInputStream in) throws IOException {
        int code = in.read();
        if (code < 0) throw new EOFException("instance closed the connection");
        Type type = Type.of((byte) code);
        int headLength = in.readInt();
        int bodyLength = in.readInt();
        if (headLength < 0 || headLength > MAX_PART || bodyLength < 0 || bodyLength > MAX_PART) {
            throw new ProtocolException("frame part too large: header " + headLength + " bytes, body " + bodyLength + " bytes");
        }
        byte[] head = in.readNBytes(headLength);
        byte[] body = bodyLength == 0 ? EMPTY : in.readNBytes(bodyLength);
        if (head.length != headLength || body.length != bodyLength) throw new EOFException("instance closed the connection mid-frame");
        var node = headLength == 0 ? newHeader() : JSON.readTree(head);
        if (!(node instanceof ObjectNode header)) throw new ProtocolException("frame header is not a JSON object");
        return new Frame(type, header, body);
    }

    public String text(String field) {
        var v = header.get(field);
        return v == null || v.isNull() ? "" : v.asText();
    }

    /** The protocol was broken (not a crash of user code): the connection cannot be trusted any more. */
    public static final class ProtocolException extends IOException {
        public ProtocolException(String message) {
            super(message);
        }
    }
}
