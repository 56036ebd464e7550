package gale.runtime.python;

import gale.runtime.Instance;
import gale.runtime.InstanceFailure;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The instance a version's zygote forks ahead of demand, so that a cold start is only a
 * hand-over: it connects, runs the module-level code and sends READY while no call waits, and
 * the version's next start takes it as it is. It is a whole instance from birth (its own id,
 * nonce, environment, cgroup with the memory limit, scratch folder, logs), one that merely
 * started early, and no pool's capacity until taken: pools, metrics and the admin API do not
 * count it. At most one per zygote.
 *
 * <p>A spare is made only for a version that has been used (a start since the last spare
 * failed), so a version whose module-level code fails makes no more spares until its next start.
 * Life: none → making (its id known, its fork under way) → made → taken or ended → none;
 * {@link #close} kills a spare that is not taken and stops any more from being made.
 */
final class SpareInstance {

    private static final InstanceFailure NOT_NEEDED = new InstanceFailure(InstanceFailure.Kind.STOPPED,
            "a spare instance no longer needed");

    private sealed interface State permits Making, Made {
        String id();
    }

    private record Making(String id) implements State {
    }

    private record Made(String id, Instance instance) implements State {
    }

    private final AtomicReference<State> state = new AtomicReference<>();
    private volatile boolean wanted;
    private volatile boolean closed;

    /** True when {@code instanceId} is the spare's, being made or made, not yet taken. */
    boolean is(String instanceId) {
        State s = state.get();
        return s != null && s.id().equals(instanceId);
    }

    /** True when a spare is made and not taken (it may still be loading). */
    boolean made() {
        return state.get() instanceof Made;
    }

    /** The version started an instance: a spare is worth making (again). */
    void used() {
        wanted = true;
    }

    /** True when a spare is worth making and none exists or is being made. */
    boolean wanted() {
        return wanted && !closed && state.get() == null;
    }

    /** Reserves the making of a spare with this id; false when one exists, none is wanted, or after {@link #close}. */
    boolean reserve(String instanceId) {
        return wanted && !closed && state.compareAndSet(null, new Making(instanceId));
    }

    /** The reserved spare exists (its process may still be forking or loading); killed at once if closed meanwhile. */
    void made(Instance instance) {
        State making = state.get();
        Made made = new Made(instance.id(), instance);
        if (!(making instanceof Making m && m.id().equals(instance.id()) && state.compareAndSet(making, made))) {
            instance.kill(NOT_NEEDED);
            return;
        }
        instance.terminated().thenAccept(failure -> ended(instance));
        if (closed && state.compareAndSet(made, null)) instance.kill(NOT_NEEDED); // closed between reserve and now
    }

    /** The reserved spare could not be made: none is made again until the version starts an instance. */
    void failed(String instanceId) {
        State s = state.get();
        if (s instanceof Making m && m.id().equals(instanceId) && state.compareAndSet(s, null)) wanted = false;
    }

    /**
     * Takes the spare for a start of the version, if there is one that has not failed (it may still
     * be loading: it is further along than a new fork); counts as a use either way.
     */
    Optional<Instance> take() {
        wanted = true;
        State s = state.get();
        if (s instanceof Made made && state.compareAndSet(s, null) && made.instance().failure().isEmpty()) {
            return Optional.of(made.instance());
        }
        return Optional.empty();
    }

    /** Kills the spare, if one is made and not taken; another may be made later. */
    void discard() {
        State s = state.get();
        if (s instanceof Made made && state.compareAndSet(s, null)) made.instance().kill(NOT_NEEDED);
    }

    /** Kills the spare, if one is made and not taken, and makes no more. Safe to call more than once. */
    void close() {
        release().ifPresent(instance -> instance.kill(NOT_NEEDED));
    }

    /** Makes no more spares and hands over the one made and not taken, if any, to be stopped by the caller. */
    Optional<Instance> release() {
        closed = true;
        return state.getAndSet(null) instanceof Made made ? Optional.of(made.instance()) : Optional.empty();
    }

    /** A spare ended before it was taken (its code failed to load, it crashed, its zygote died): make no more until used. */
    private void ended(Instance instance) {
        State s = state.get();
        if (s instanceof Made made && made.instance() == instance && state.compareAndSet(s, null)) wanted = false;
    }
}
