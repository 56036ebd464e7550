package example;

import gale.api.HttpFunction;
import gale.api.Request;
import gale.api.Response;

/**
 * GET /fn/java-hello?name=Ada     -> Hello, Ada!
 * POST /fn/java-hello/echo (body) -> the body back, with its content type
 */
public class Hello implements HttpFunction {

    private final String greeting;

    /** Runs once per instance: load models, read files, open clients here. */
    public Hello() {
        this.greeting = System.getenv().getOrDefault("GREETING", "Hello");
    }

    @Override
    public void handle(Request req, Response res) {
        System.out.println(req.method() + " " + req.path());  // appears in `gale logs java-hello` with the request id
        switch (req.path()) {
            case "/echo" -> res.contentType(req.contentType().orElse("application/octet-stream")).send(req.body());
            case "/" -> res.send(greeting + ", " + req.query("name").orElse("world") + "!");
            default -> res.status(404).send("no route " + req.path() + "; try / or /echo");
        }
    }
}
