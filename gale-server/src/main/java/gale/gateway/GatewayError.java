package gale.gateway;

/**
 * An error response of the gateway: who failed (the platform or the function), the
 * status, and a message that says what to do.
 */
record GatewayError(int status, Blame blame, String message) {

    enum Blame {
        PLATFORM, FUNCTION;

        String header() {
            return name().toLowerCase();
        }
    }

    static GatewayError platform(int status, String message) {
        return new GatewayError(status, Blame.PLATFORM, message);
    }

    static GatewayError function(int status, String message) {
        return new GatewayError(status, Blame.FUNCTION, message);
    }
}
