package gale.triggers;

/** A schedule the user asked for cannot be kept (a bad cron expression, time zone or interval); the message says how to fix it. */
public final class InvalidScheduleException extends IllegalArgumentException {
    public InvalidScheduleException(String message) {
        super(message);
    }
}
