package gale.access;

import java.util.Locale;

/**
 * One kind of thing an access key may do (docs/access.md). A key holds {@link Scopes}; a route needs
 * one of these. {@link #INVOKE} is held per function ({@code invoke:scorer,report} or {@code invoke:*}).
 */
public enum Scope {
    /** Create, update, roll back and delete functions, and read them; their schedules, dead letters and blobs. */
    DEPLOY,
    /** Call the functions named in the scope, private or deployed with --require-key; their map jobs. */
    INVOKE,
    /** Read logs, invocation records, dead letters and schedule firings. */
    LOGS,
    /** Everything, keys, secrets, state and the audit log included: what the admin token may do. */
    ADMIN;

    /** As written in a key's scopes: deploy, invoke, logs, admin. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
