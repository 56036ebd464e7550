package gale.blob;

/** A blob request Gale will not carry out, with a message saying what to do instead. Nothing was written. */
public final class BlobRefused extends RuntimeException {

    public enum Reason {
        /** A bad bucket, key, alias, version or split (HTTP 400). */
        INVALID,
        /** No such key, version or alias (HTTP 404). */
        NOT_FOUND,
        /** The request conflicts with what exists: a version an alias still names (HTTP 409). */
        CONFLICT,
        /** A blob over the server's limit (HTTP 413). */
        TOO_LARGE
    }

    private final Reason reason;

    private BlobRefused(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public static BlobRefused invalid(String message) {
        return new BlobRefused(Reason.INVALID, message);
    }

    public static BlobRefused notFound(String message) {
        return new BlobRefused(Reason.NOT_FOUND, message);
    }

    public static BlobRefused conflict(String message) {
        return new BlobRefused(Reason.CONFLICT, message);
    }

    public static BlobRefused tooLarge(String message) {
        return new BlobRefused(Reason.TOO_LARGE, message);
    }

    public Reason reason() {
        return reason;
    }
}
