package gale.runtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
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
        CONTROL('C'),
        /** Over TCP, Gale's first frame: what the instance proves it holds its secret with (docs/protocol.md, "Over TCP"). */
        CHALLENGE('K'),
        /** Over TCP, after HELLO: the instance's environment and the archives (bundle, packages) that follow. */
        SETUP('U'),
        /** Over TCP, after SETUP: the next bytes of the archives SETUP announced. */
        ARCHIVE('A');

        final byte code;

        Type(char code) {
            this.code = (byte) code;
        }

        static Type of(byte code) throws ProtocolException {
            for (Type t : values()) {
                if (t.code == code) return t;
            }
            char shown = (char) (code & 0xff);
            throw new ProtocolException("unknown frame type 0x" + Integer.toHexString(code & 0xff)
                    + (shown >= ' ' && shown < 127 ? " ('" + shown + "')" : ""));
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

    /**
     * Reads one frame.
     *
     * @throws EOFException       when the peer closed the connection between frames
     * @throws CutOff             when it closed the connection in the middle of one
     * @throws ProtocolException  when the bytes are not a frame (unknown type, oversized part, header not a JSON object)
     */
    public static Frame readFrom(DataInputStream in) throws IOException {
        int code = in.read();
        if (code < 0) throw new EOFException("instance closed the connection");
        Type type = Type.of((byte) code);
        byte[] lengths = in.readNBytes(8);
        if (lengths.length < 8) throw new CutOff(1 + lengths.length, -1);
        ByteBuffer prefix = ByteBuffer.wrap(lengths);
        int headLength = prefix.getInt();
        int bodyLength = prefix.getInt();
        if (headLength < 0 || headLength > MAX_PART || bodyLength < 0 || bodyLength > MAX_PART) {
            throw new ProtocolException("frame part too large: header " + Integer.toUnsignedString(headLength) + " bytes, body "
                    + Integer.toUnsignedString(bodyLength) + " bytes");
        }
        byte[] head = in.readNBytes(headLength);
        byte[] body = bodyLength == 0 || head.length < headLength ? EMPTY : in.readNBytes(bodyLength);
        if (head.length != headLength || body.length != bodyLength) {
            throw new CutOff(9L + head.length + body.length, 9L + headLength + bodyLength);
        }
        JsonNode node;
        try {
            node = headLength == 0 ? newHeader() : JSON.readTree(head);
        } catch (JsonProcessingException e) {
            throw new ProtocolException("frame header is not valid JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode header)) throw new ProtocolException("frame header is not a JSON object");
        return new Frame(type, header, body);
    }

    public String text(String field) {
        var v = header.get(field);
        return v == null || v.isNull() ? "" : v.asText();
    }

    /** The connection closed in the middle of a frame: the peer exited, or closed it, while writing one. */
    public static final class CutOff extends EOFException {
        public CutOff(long arrived, long announced) {
            super("the connection closed in the middle of a frame (" + arrived + (announced < 0 ? " bytes of its 9-byte prefix"
                    : " of its " + announced + " bytes") + " had arrived)");
        }
    }

    /** The protocol was broken (not a crash of user code): the connection cannot be trusted any more. */
    public static final class ProtocolException extends IOException {
        public ProtocolException(String message) {
            super(message);
        }
    }
}
