package gale.runtime;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.node.ObjectNode;

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
            Frame.of(Frame.Type.HELLO, hello(ID, proof)).writeTo(channel);
            Connection connection = connecting.get(10, TimeUnit.SECONDS);
            assertThat(connection.hello().text("instance")).isEqualTo(ID);
            assertThat(connection.hello().toString()).doesNotContain(NONCE);
        }
    }

    @Test
    void aWrongSecretIsRefusedAndTheInstanceStaysExpected() throws Exception {
        assertDropped(challenge -> hello(ID, InstanceListener.proof("not-the-nonce", challenge, ID)));
    }

    @Test
    void sendingTheNonceItselfIsNoProofOverTcp() throws Exception {
        assertDropped(challenge -> Frame.newHeader().put("instance", ID).put("nonce", NONCE));
    }

    @Test
    void aProofForAnotherChallengeIsRefused() throws Exception {
        assertDropped(challenge -> hello(ID, InstanceListener.proof(NONCE, "a challenge seen on another connection", ID)));
    }

    @Test
    void anInstanceNobodyExpectsIsRefused() throws Exception {
        assertDropped(challenge -> hello("someone-else", InstanceListener.proof(NONCE, challenge, "someone-else")));
    }

    @Test
    void theProofIsTheHexHmacSha256OfTheChallengeAndIdKeyedWithTheNonce() {
        // As Python computes it (gale/_remote.py): hmac.new(b"key", b"challenge\nid", hashlib.sha256).hexdigest()
        assertThat(InstanceListener.proof("key", "challenge", "id"))
                .isEqualTo("eb7708f07fbedc4047df3aa1706f86d20813117b2a95f4d7278d0b2102d951ec");
    }

    /** Answers the challenge with the HELLO {@code answer} makes of it: Gale closes the connection and still waits for the instance. */
    private void assertDropped(java.util.function.Function<String, ObjectNode> answer) throws Exception {
        CompletableFuture<Connection> connecting = listener.expect(ID, NONCE);
        try (SocketChannel channel = SocketChannel.open(address)) {
            Frame challenge = read(channel);
            Frame.of(Frame.Type.HELLO, answer.apply(challenge.text("challenge"))).writeTo(channel);
            assertThatThrownBy(() -> read(channel)).isInstanceOf(EOFException.class);
        }
        assertThat(connecting).isNotDone();
    }

    private static ObjectNode hello(String id, String proof) {
        return Frame.newHeader().put("instance", id).put("proof", proof);
    }

    private static Frame read(SocketChannel channel) throws IOException {
        return Frame.readFrom(new DataInputStream(Channels.newInputStream(channel)));
    }

}
