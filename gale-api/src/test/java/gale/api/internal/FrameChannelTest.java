package gale.api.internal;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The wire format of docs/protocol.md, "Frames", from the instance's side. */
class FrameChannelTest {

    @Test
    void aFrameIsTypeHeaderLengthBodyLengthHeaderAndBody() throws IOException {
        var wire = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("id", "r1");

        new FrameChannel(wire).write(new Frame(Frame.RESPONSE, header, "ok".getBytes(StandardCharsets.UTF_8)));

        byte[] head = "{\"id\":\"r1\"}".getBytes(StandardCharsets.UTF_8);
        ByteBuffer expected = ByteBuffer.allocate(9 + head.length + 2);
        expected.put((byte) 'r').putInt(head.length).putInt(2).put(head).put("ok".getBytes(StandardCharsets.UTF_8));
        assertThat(wire.written()).isEqualTo(expected.array());
    }

    @Test
    void aFrameGoesOutInOneWriteWhenTheSocketTakesItWhole() throws IOException {
        var wire = new GatheringChannel(Integer.MAX_VALUE);

        new FrameChannel(wire).write(new Frame(Frame.RESPONSE, Map.of("id", "r1"), new byte[1000]));

        assertThat(wire.writes).isEqualTo(1);
        assertThat(wire.written()).hasSize(9 + "{\"id\":\"r1\"}".length() + 1000);
    }

    @Test
    void aFrameTheSocketTakesInPiecesIsWrittenWholeAndInOrder() throws IOException {
        var pieces = new GatheringChannel(7);
        var whole = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        Frame frame = new Frame(Frame.LOG, Map.of("id", "r2", "stream", "stdout"), "a line\n".getBytes(StandardCharsets.UTF_8));

        new FrameChannel(pieces).write(frame);
        new FrameChannel(whole).write(frame);

        assertThat(pieces.written()).isEqualTo(whole.written());
    }

    @Test
    void framesWrittenAreReadBackWhateverTheirSize() throws IOException {
        byte[] big = new byte[300_000]; // larger than the read buffer
        new Random(7).nextBytes(big);
        var out = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        var writer = new FrameChannel(out);
        writer.write(new Frame(Frame.INVOKE, Map.of("id", "a", "path", "/é"), big));
        writer.write(new Frame(Frame.SHUTDOWN, Map.of()));
        writer.write(new Frame(Frame.LOG, Map.of("id", "b"), "line\n".getBytes(StandardCharsets.UTF_8)));

        var reader = new FrameChannel(new MemoryChannel(out.written(), Integer.MAX_VALUE));
        Frame first = reader.read();
        Frame second = reader.read();
        Frame third = reader.read();

        assertThat(first.type()).isEqualTo(Frame.INVOKE);
        assertThat(first.header()).containsEntry("path", "/é");
        assertThat(Arrays.equals(first.body(), big)).isTrue();
        assertThat(second.type()).isEqualTo(Frame.SHUTDOWN);
        assertThat(second.body()).isEmpty();
        assertThat(new String(third.body(), StandardCharsets.UTF_8)).isEqualTo("line\n");
        assertThat(reader.read()).isNull();
    }

    @Test
    void framesArriveIntactWhenTheSocketHandsOverOneByteAtATime() throws IOException {
        var out = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        new FrameChannel(out).write(new Frame(Frame.INVOKE, Map.of("id", "slow"), "body".getBytes(StandardCharsets.UTF_8)));
        new FrameChannel(out).write(new Frame(Frame.SHUTDOWN, Map.of()));

        var reader = new FrameChannel(new MemoryChannel(out.written(), 1));

        assertThat(reader.read().header()).containsEntry("id", "slow");
        assertThat(reader.read().type()).isEqualTo(Frame.SHUTDOWN);
        assertThat(reader.read()).isNull();
    }

    @Test
    void anEmptyHeaderIsAnEmptyObject() throws IOException {
        byte[] wire = ByteBuffer.allocate(9).put((byte) 'S').putInt(0).putInt(0).array();

        Frame frame = new FrameChannel(new MemoryChannel(wire, Integer.MAX_VALUE)).read();

        assertThat(frame.header()).isEmpty();
    }

    @Test
    void aConnectionClosedInsideAFrameIsAnErrorNotTheEnd() {
        var out = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        try {
            new FrameChannel(out).write(new Frame(Frame.INVOKE, Map.of("id", "x"), new byte[100]));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        byte[] whole = out.written();
        for (int cut : new int[] {1, 5, 9, 12, whole.length - 1}) {
            var reader = new FrameChannel(new MemoryChannel(Arrays.copyOf(whole, cut), Integer.MAX_VALUE));
            assertThatThrownBy(reader::read).as("cut at %d", cut).isInstanceOf(EOFException.class).hasMessageContaining("mid-frame");
        }
    }

    @Test
    void partsLargerThanOneGibibyteAreAProtocolError() {
        byte[] wire = ByteBuffer.allocate(9).put((byte) 'I').putInt(2).putInt((1 << 30) + 1).array();

        assertThatThrownBy(() -> new FrameChannel(new MemoryChannel(wire, Integer.MAX_VALUE)).read())
                .isInstanceOf(IOException.class).hasMessageContaining("too large");
    }

    @Test
    void aHeaderThatIsNotAJsonObjectIsRejected() {
        byte[] head = "[1]".getBytes(StandardCharsets.UTF_8);
        byte[] wire = ByteBuffer.allocate(9 + head.length).put((byte) 'I').putInt(head.length).putInt(0).put(head).array();

        assertThatThrownBy(() -> new FrameChannel(new MemoryChannel(wire, Integer.MAX_VALUE)).read())
                .isInstanceOf(Json.JsonException.class);
    }

    /** A socket-like channel that takes at most {@code most} bytes per write, counting the writes. */
    static final class GatheringChannel implements java.nio.channels.GatheringByteChannel, ByteChannel {
        private final MemoryChannel memory = new MemoryChannel(new byte[0], Integer.MAX_VALUE);
        private final int most;
        int writes;

        GatheringChannel(int most) {
            this.most = most;
        }

        byte[] written() {
            return memory.written();
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            writes++;
            long taken = 0;
            for (int i = offset; i < offset + length && taken < most; i++) {
                int n = (int) Math.min(srcs[i].remaining(), most - taken);
                taken += memory.write(srcs[i].slice(srcs[i].position(), n));
                srcs[i].position(srcs[i].position() + n);
            }
            return taken;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public int write(ByteBuffer src) {
            return (int) write(new ByteBuffer[] {src});
        }

        @Override
        public int read(ByteBuffer dst) {
            return -1;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** Reads from a byte array at most {@code chunk} bytes per read; collects what is written. */
    static final class MemoryChannel implements ByteChannel {
        private final ByteBuffer input;
        private final int chunk;
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();

        MemoryChannel(byte[] input, int chunk) {
            this.input = ByteBuffer.wrap(input);
            this.chunk = chunk;
        }

        byte[] written() {
            return output.toByteArray();
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!input.hasRemaining()) return -1;
            int n = Math.min(Math.min(chunk, dst.remaining()), input.remaining());
            ByteBuffer slice = input.slice(input.position(), n);
            dst.put(slice);
            input.position(input.position() + n);
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            byte[] bytes = new byte[n];
            src.get(bytes);
            output.writeBytes(bytes);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }
}
