package gale.state;

/**
 * A condition of a {@link StateStore#transact transaction}: the key is at {@code version}, or,
 * with version 0, does not exist.
 */
public record StateCheck(String key, long version) {

    public static StateCheck absent(String key) {
        return new StateCheck(key, 0);
    }
}
