package gale.runtime;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The socket to one instance. Reads happen on the instance's reader thread only;
 * writes from many request threads are serialised by a lock, one frame at a time.
 * (Channels.newInputStream would share one lock between reading and writing and
 * deadlock a blocked reader against a writer, hence the small adapter.)
 *
 * <p>The bytes read are counted, so that a frame that began to arrive and then stopped
 * (user code wrote a frame prefix to Gale's socket) can be told from an instance that is
 * merely busy: see {@link #stalledFrame}.
 */
public final class Connection implements AutoCloseable {

    private final SocketChannel channel;
    private final FrameInput in;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Frame hello;
    /** Bytes read when the last whole frame ended: more than that means a frame is under way. */
    private volatile long frameStart;

    static FrameInput inputOf(SocketChannel channel) {
        return new FrameInput(new Counted(new BufferedInputStream(new ChannelInput(channel), 64 * 1024)));
    }

    Connection(SocketChannel channel, FrameInput in, Frame hello) {
        this.channel = channel;
        this.in = in;
        this.hello = hello;
        this.frameStart = in.counted.bytes;
    }

    public Frame hello() {
        return hello;
    }

    public Frame read() throws IOException {
        Frame frame = Frame.readFrom(in);
        frameStart = in.counted.bytes;
        return frame;
    }

    /**
     * Describes the frame being read when part of it has arrived and nothing more for {@code quiet}
     * ("12 bytes of a frame, then nothing for 5 s"); empty between frames or while one still arrives.
     */
    public Optional<String> stalledFrame(Duration quiet) {
        long arrived = in.counted.bytes - frameStart;
        long silentNanos = System.nanoTime() - in.counted.lastReadNanos;
        if (arrived <= 0 || silentNanos < quiet.toNanos()) return Optional.empty();
        return Optional.of(arrived + " bytes of a frame, then nothing for " + Duration.ofNanos(silentNanos).toSeconds() + " s");
    }

    public void write(Frame frame) throws IOException {
        writeLock.lock();
        try {
            frame.writeTo(channel);
        } finally {
            writeLock.unlock();
        }
    }

    /** Writes the frame unless another thread is writing one; false then, and nothing was written. */
    public boolean tryWrite(Frame frame) throws IOException {
        if (!writeLock.tryLock()) return false;
        try {
            frame.writeTo(channel);
            return true;
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a broken socket has nothing left to report
        }
    }

    /** What frames are read from: the socket, buffered, with the bytes taken counted. */
    static final class FrameInput extends DataInputStream {
        private final Counted counted;

        private FrameInput(Counted counted) {
            super(counted);
            this.counted = counted;
        }
    }

    /** Counts the bytes taken from the buffer; written by the reader thread only, read by any. */
    private static final class Counted extends FilterInputStream {
        volatile long bytes;
        volatile long lastReadNanos = System.nanoTime();

        Counted(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) took(1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) took(n);
            return n;
        }

        private void took(int n) {
            bytes += n; // one writer, so no lost update
            lastReadNanos = System.nanoTime();
        }
    }

    private static final class ChannelInput extends InputStream {
        private final SocketChannel channel;

        ChannelInput(SocketChannel channel) {
            this.channel = channel;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            return channel.read(ByteBuffer.wrap(b, off, len));
        }
    }
}
