package gale.api;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ResponseTest {

    @Test
    void anUntouchedResponseIsAnEmpty200() {
        var res = new Response();

        assertThat(res.status()).isEqualTo(200);
        assertThat(res.body()).isEmpty();
        assertThat(res.headers()).isEmpty();
        assertThat(res.isSent()).isFalse();
    }

    @Test
    void textIsSentAsUtf8PlainTextUnlessAContentTypeWasSet() {
        var plain = new Response();
        plain.send("grüezi");
        var json = new Response().contentType("application/json");
        json.send("{}");

        assertThat(plain.body()).isEqualTo("grüezi".getBytes(StandardCharsets.UTF_8));
        assertThat(plain.contentType()).hasValue("text/plain; charset=utf-8");
        assertThat(json.contentType()).hasValue("application/json");
        assertThat(json.headers()).hasSize(1);
    }

    @Test
    void bytesAreSentAsOctetStreamUnlessAContentTypeWasSet() {
        var res = new Response();
        byte[] png = {(byte) 0x89, 'P', 'N', 'G'};

        res.send(png);

        assertThat(res.body()).isSameAs(png);
        assertThat(res.contentType()).hasValue("application/octet-stream");
    }

    @Test
    void aResponseIsSentExactlyOnce() {
        var res = new Response();
        res.status(201).send("first");

        assertThatThrownBy(() -> res.send("second")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already sent (status 201, 5 bytes)");
        assertThatThrownBy(() -> res.status(500)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> res.header("X-Late", "1")).isInstanceOf(IllegalStateException.class);
        assertThat(res.bodyAsString()).isEqualTo("first");
        assertThat(res.status()).isEqualTo(201);
    }

    @Test
    void headerReplacesWhateverTheCaseAndAddHeaderRepeats() {
        var res = new Response()
                .header("X-Mode", "a").header("x-mode", "b")
                .addHeader("Set-Cookie", "a=1").addHeader("Set-Cookie", "b=2");

        assertThat(res.headers()).containsExactly(Map.entry("x-mode", "b"), Map.entry("Set-Cookie", "a=1"), Map.entry("Set-Cookie", "b=2"));
        assertThat(res.header("X-MODE")).hasValue("b");
    }

    @Test
    void statusCodesOutsideHttpsRangeAreRefused() {
        assertThatThrownBy(() -> new Response().status(99)).hasMessageContaining("100-599");
        assertThatThrownBy(() -> new Response().status(600)).hasMessageContaining("100-599");
    }

    @Test
    void headersThatWouldSplitTheResponseAreRefused() {
        assertThatThrownBy(() -> new Response().header("X-A", "1\r\nSet-Cookie: evil=1")).hasMessageContaining("CR, LF");
        assertThatThrownBy(() -> new Response().header("Bad Name", "1")).hasMessageContaining("invalid header name");
        assertThatThrownBy(() -> new Response().header("", "1")).hasMessageContaining("invalid header name");
        assertThatThrownBy(() -> new Response().header("X-A", null)).hasMessageContaining("null");
    }

    @Test
    void sendingNullIsRefusedWithWhatToSendInstead() {
        assertThatThrownBy(() -> new Response().send((String) null)).hasMessageContaining("send \"\"");
        assertThatThrownBy(() -> new Response().send((byte[]) null)).hasMessageContaining("new byte[0]");
    }
}
