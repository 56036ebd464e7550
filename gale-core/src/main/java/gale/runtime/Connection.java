package gale.runtime;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The socket to one instance. Reads happen on the instance's reader thread only;
 * writes from many request threads are serialised by a lock, one frame at a time.
 * (Channels.newInputStream would share one lock between reading and writing and
 * deadlock a blocked reader against a writer, hence the small adapter.)
 */
public final class Connection implements AutoCloseable {

    private final SocketChannel channel;
    private final DataInputStream in;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Frame hello;

    static DataInputStream inputOf(SocketChannel channel) {
        return new DataInputStream(new BufferedInputStream(new ChannelInput(channel), 64 * 1024));
    }

    Connection(SocketChannel channel, DataInputStream in, Frame hello) {
        this.channel = channel;
        this.in = in;
        this.hello = hello;
    }

    public Frame hello() {
        return hello;
    }

    public Frame read() throws IOException {
        return Frame.readFrom(in);
    }

    public void write(Frame frame) throws IOException {
        writeLock.lock();
        try {
            frame.writeTo(channel);
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
