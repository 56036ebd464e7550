package gale.gateway;

import gale.access.AccessKeys;
import gale.access.Scope;

/** Who sent a request, as {@link Auth} found out from its credential. */
public sealed interface Caller {

    /** The admin token: may do everything; the root credential. */
    record AdminToken() implements Caller {
    }

    /** A valid access key (neither revoked nor expired); it may do what its scopes hold. */
    record Key(AccessKeys.Held held) implements Caller {
    }

    /** No Gale credential: none at all, or a bearer token that is neither (a function's state token, say). */
    record Anonymous() implements Caller {
    }

    /** A credential meant as an access key that is not a valid one (malformed, unknown, revoked, expired): 401. */
    record Invalid(String message) implements Caller {
    }

    AdminToken ADMIN_TOKEN = new AdminToken();
    Anonymous ANONYMOUS = new Anonymous();

    /** The audit log's and messages' name for the caller: {@code admin-token}, or the key's name. */
    default String actor() {
        return switch (this) {
            case Key k -> k.held().key().name();
            case AdminToken a -> "admin-token";
            default -> "anonymous";
        };
    }

    /** True when the caller may do what {@code scope} covers (the admin token may do everything). */
    default boolean allows(Scope scope) {
        return switch (this) {
            case AdminToken a -> true;
            case Key k -> k.held().key().scopes().allows(scope);
            default -> false;
        };
    }

    /** True when the caller may call {@code function} when it is private or requires a key. */
    default boolean mayInvoke(String function) {
        return switch (this) {
            case AdminToken a -> true;
            case Key k -> k.held().key().scopes().mayInvoke(function);
            default -> false;
        };
    }
}
