package gale.api.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * Reads and writes frames on the instance's socket. One thread reads; any thread may
 * write, one whole frame at a time. The channel is used directly, not through
 * Channels.newInputStream/newOutputStream, whose shared lock would block a writer
 * behind a reader waiting for the next INVOKE. A frame goes out in one gathering write (one
 * writev(2), one wake-up of Gale's reader), not one write for the prefix and one for the body.
 */
public final class FrameChannel implements AutoCloseable {

    /** docs/protocol.md: a frame larger than 1 GiB is a protocol error. */
    static final int MAX_PART = 1 << 30;
    private static final int PREFIX = 9;

    private final ByteChannel channel;
    private final ByteBuffer in = ByteBuffer.allocate(64 * 1024).flip();
    private final Object writeLock = new Object();

    public FrameChannel(ByteChannel channel) {
        this.channel = channel;
    }

    /** Writes one frame, whole; frames from different threads never interleave. */
    public void write(Frame frame) throws IOException {
        byte[] head = Json.write(frame.header()).getBytes(StandardCharsets.UTF_8);
        ByteBuffer prefix = ByteBuffer.allocate(PREFIX + head.length);
        prefix.put(frame.type()).putInt(head.length).putInt(frame.body().length).put(head).flip();
        ByteBuffer body = ByteBuffer.wrap(frame.body());
        synchronized (writeLock) {
            if (channel instanceof GatheringByteChannel gathering) {
                ByteBuffer[] parts = {prefix, body};
                while (body.hasRemaining() || prefix.hasRemaining()) gathering.write(parts);
            } else {
                while (prefix.hasRemaining()) channel.write(prefix);
                while (body.hasRemaining()) channel.write(body);
            }
        }
    }

    /** Reads the next frame; null when Gale closed the connection between frames. */
    public Frame read() throws IOException {
        if (!fill(1)) return null;
        if (!fill(PREFIX)) throw new EOFException("connection closed mid-frame");
        byte type = in.get();
        int headLength = in.getInt();
        int bodyLength = in.getInt();
        if (headLength < 0 || headLength > MAX_PART || bodyLength < 0 || bodyLength > MAX_PART) {
            throw new IOException("protocol error: frame part too large (header " + headLength + ", body " + bodyLength + " bytes)");
        }
        byte[] head = readBytes(headLength);
        byte[] body = bodyLength == 0 ? Frame.EMPTY : readBytes(bodyLength);
        var header = headLength == 0 ? new java.util.LinkedHashMap<String, Object>()
                : Json.parseObject(new String(head, StandardCharsets.UTF_8));
        return new Frame(type, header, body);
    }

    /** Makes at least {@code n} bytes (n ≤ buffer size) available; false on EOF before any byte of them. */
    private boolean fill(int n) throws IOException {
        if (in.remaining() >= n) return true;
        in.compact();
        try {
            while (in.position() < n) {
                if (channel.read(in) < 0) {
                    if (in.position() == 0) return false;
                    throw new EOFException("connection closed mid-frame");
                }
            }
        } finally {
            in.flip();
        }
        return true;
    }

    private byte[] readBytes(int length) throws IOException {
        byte[] out = new byte[length];
        int copied = Math.min(length, in.remaining());
        in.get(out, 0, copied);
        ByteBuffer rest = ByteBuffer.wrap(out, copied, length - copied);
        while (rest.hasRemaining()) {
            if (channel.read(rest) < 0) throw new EOFException("connection closed mid-frame");
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
