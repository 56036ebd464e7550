package example;

import gale.api.Request;
import gale.api.Response;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A function is a plain class: test it with a built Request and a fresh Response, no server needed. */
class HelloTest {

    @Test
    void greetsTheNameInTheQuery() {
        Response res = new Response();

        new Hello().handle(Request.builder().query("name=Ada").build(), res);

        assertEquals(200, res.status());
        assertEquals("Hello, Ada!", res.bodyAsString());
    }

    @Test
    void echoesTheBodyWithItsContentType() {
        Response res = new Response();

        new Hello().handle(Request.builder().method("POST").path("/echo")
                .header("Content-Type", "application/json").body("{\"x\": 1}").build(), res);

        assertEquals("{\"x\": 1}", res.bodyAsString());
        assertEquals("application/json", res.contentType().orElseThrow());
    }

    @Test
    void answersUnknownPathsWith404() {
        Response res = new Response();

        new Hello().handle(Request.builder().path("/nope").build(), res);

        assertEquals(404, res.status());
    }
}
