package gale.cli;

import gale.client.Job;
import java.time.Duration;
import java.util.Locale;

/** How a job's numbers read in every command: "18.9 s", "158/s", "398/3000". */
final class JobFormat {

    private JobFormat() {
    }

    /** {@code 850 ms}, {@code 18.9 s}, {@code 3 min 20 s}, {@code 2 h 5 min}. */
    static String duration(Duration duration) {
        long millis = duration.toMillis();
        if (millis < 1_000) return millis + " ms";
        if (millis < 60_000) return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
        long seconds = duration.toSeconds();
        if (seconds < 3_600) return seconds / 60 + " min " + seconds % 60 + " s";
        return seconds / 3_600 + " h " + seconds % 3_600 / 60 + " min";
    }

    /** 41.2, 2000, 0.125: at most three decimals, no trailing zeros. */
    static String number(double value) {
        return java.math.BigDecimal.valueOf(value).setScale(3, java.math.RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
    }

    /** Inputs per second: whole numbers from 10/s up, one decimal below. */
    static String rate(double perSecond) {
        return perSecond >= 10 ? Math.round(perSecond) + "/s" : String.format(Locale.ROOT, "%.1f/s", perSecond);
    }

    /** Inputs done (succeeded) of all inputs, e.g. {@code 398/3000}. */
    static String doneOfTotal(Job job) {
        return job.counts().done() + "/" + job.inputs();
    }

    /** {@code job job-7f3a9c SUCCEEDED: 3000 inputs in 18.9 s (158/s), 0 failed}, and how many were cancelled if any. */
    static String summary(Job job) {
        int cancelled = job.counts().cancelled();
        return "job " + job.id() + " " + job.state() + ": " + job.inputs() + " inputs in " + duration(job.elapsed())
                + " (" + rate(job.throughputPerSec()) + "), " + job.counts().failed() + " failed"
                + (cancelled > 0 ? ", " + cancelled + " cancelled" : "");
    }
}
