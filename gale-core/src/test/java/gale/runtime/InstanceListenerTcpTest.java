package gale.runtime;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Instances that connect over TCP (pods) prove their secret with an HMAC of Gale's challenge, never by sending it. */
class InstanceListenerTcpTest {

    private static final String ID = "hello-3-1a2b";
    private static final String NONCE = InstanceIds.nonce();

    @TempDir
    Path dir;
    private InstanceListener listener;
    private InetSocketAddress address;

    @BeforeEach
    void listen() {
        listener = InstanceListener.open(dir.resolve("instances.sock"));
        address = listener.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void close() {
        listener.close();
    }

    @Test
    void anInstanceThatAnswersTheChallengeWithTheRightProofIsConnected() throws Exception {
        CompletableFuture<Connection> connecting = listener.expect(ID, NONCE);
        try (SocketChannel channel = SocketChannel.open(address)) {
            Frame challenge = read(channel);
            assertThat(challenge.type()).isEqualTo(Frame.Type.CHALLENGE);
            assertThat(challenge.header().path("protocol").asInt()).isEqualTo(InstanceListener.TCP_PROTOCOL);
            String proof = InstanceListener.proof(NONCE, challenge.text("challenge"), ID);
            hello(channel, ID, proof);
            Connection connection = connecting.get(10, TimeUnit.SECONDS);
            assertThat(connection.hello().text("instance")).isEqualTo(ID);
            assertThat(connection.hello().toString()).doesNotContain(NONCE);
        }
    }

    @Test
    void aWrongSecretIsRefusedAndTheInstanceStaysExpected() throws Exception {
        CompletableFuture<Connection> connecting = listener.expect(ID, NONCE);
        try (SocketChannel channel = SocketChannel.open(address)) {
            Frame challenge = read(channel);
            hello(channel, ID, InstanceListener.proof("not-the-nonce", challenge.text("challenge"), ID));
            assertThatThrownBy(() -> read(channel)).isInstanceOf(EOFException.class);
        }
        assertThat(connecting).isNotDone();
    }

    @Test
    void sendingTheNonceItselfIsNoProofOverTcp() throws Exception {
        CompletableFuture<Connection> connecting = listener.expect(ID, NONCE);
        try (SocketChannel channel = SocketChannel.open(address)) {
            read(channel);
            var header = Frame.newHeader().put("instance", ID).put("nonce", NONCE);
            Frame.of(Frame.Type.HELLO, header).writeTo(channel);
            assertThatThrownBy(() -> read(channel)).isInstanceOf(EOFException.class);
        }
        assertThat(connecting).isNotDone();
    }

    @Test
    void aProofForAnotherChallengeIsRefused() throws Exception {
        CompletableFuture<Connection> connecting = listener.expect(ID, NONCE);
        try (SocketChannel channel = SocketChannel.open(address)) {
            read(channel);
            hello(channel, ID, InstanceListener.proof(NONCE, "a challenge seen on another connection", ID));
            assertThatThrownBy(() -> read(channel)).isInstanceOf(EOFException.class);
        }
        assertThat(connecting).isNotDone();
    }

    @Test
    void anInstanceNobodyExpectsIsRefused() throws Exception {
        try (SocketChannel channel = SocketChannel.open(address)) {
            Frame challenge = read(channel);
            hello(channel, "someone-else", InstanceListener.proof(NONCE, challenge.text("challenge"), "someone-else"));
            assertThatThrownBy(() -> read(channel)).isInstanceOf(EOFException.class);
        }
    }

    @Test
    void theProofIsTheHexHmacSha256OfTheChallengeAndIdKeyedWithTheNonce() {
        // As Python computes it (gale/_remote.py): hmac.new(b"key", b"challenge\nid", hashlib.sha256).hexdigest()
        assertThat(InstanceListener.proof("key", "challenge", "id"))
                .isEqualTo("eb7708f07fbedc4047df3aa1706f86d20813117b2a95f4d7278d0b2102d951ec");
    }

    private static Frame read(SocketChannel channel) throws IOException {
        return Frame.readFrom(new DataInputStream(Channels.newInputStream(channel)));
    }

    private static void hello(SocketChannel channel, String id, String proof) throws IOException {
        Frame.of(Frame.Type.HELLO, Frame.newHeader().put("instance", id).put("proof", proof)).writeTo(channel);
    }
}
