package gale.api.internal;

import gale.api.HttpFunction;
import gale.api.Request;
import gale.api.Response;

/**
 * Uses {@link Library}, which a test class loader hides to play a jar missing from lib/.
 * (A top-level class: a nested one cannot be defined by a loader other than its outer class's.)
 */
public class NeedsLibrary implements HttpFunction {

    private final Object library = new Library();

    @Override
    public void handle(Request req, Response res) {
        res.send(library.toString());
    }

    public static class Library {
    }
}
