package gale.api;

/**
 * A Java function served by Gale at {@code /fn/NAME}. Deploy the class with
 * {@code gale deploy NAME --runtime java21 --entry-point com.example.Hello}.
 *
 * <pre>{@code
 * public class Hello implements HttpFunction {
 *     public void handle(Request req, Response res) {
 *         res.send("Hello, " + req.query("name").orElse("world"));
 *     }
 * }
 * }</pre>
 *
 * <p>Gale creates one object per instance with the public no-argument constructor (load
 * models and open clients there, once), then calls {@link #handle} for every request.
 * With {@code --concurrency} above 1, {@code handle} runs on several threads at once.
 */
@FunctionalInterface
public interface HttpFunction {

    /**
     * Answers one request. Whatever it throws becomes a 500 for the caller, with the
     * stack trace in {@code gale logs NAME}; the instance keeps serving.
     *
     * @param req the request, read-only
     * @param res the response; call {@link Response#send} once, or return to answer with an empty body
     */
    void handle(Request req, Response res) throws Exception;
}
