package gale.usage;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** How calls are counted for billing: each platform's rounding, busy time, and stretches of overlapping calls. */
class CallTallyTest {

    private static final long MS = 1_000_000;

    @Test
    void aCallIsRoundedUpTo1MsAndTo100MsAndItsStretchTo100Ms() {
        CallTally tally = new CallTally();
        tally.started(0);
        tally.ended(1_200_000, 0);

        CallTally.Delta d = tally.drain(10 * MS);

        assertThat(d.calls()).isEqualTo(1);
        assertThat(d.durationNanos()).isEqualTo(1_200_000);
        assertThat(d.billedNanos1ms()).isEqualTo(2 * MS);
        assertThat(d.billedNanos100ms()).isEqualTo(100 * MS);
        assertThat(d.activeNanos100ms()).isEqualTo(100 * MS);
        assertThat(d.busyNanos()).isEqualTo(1_200_000);
        assertThat(tally.drain(20 * MS)).isEqualTo(CallTally.Delta.ZERO);
    }

    @Test
    void overlappingCallsAreBilledEachButKeepTheInstanceActiveOnce() {
        CallTally tally = new CallTally();
        tally.started(0);
        tally.started(30 * MS);
        tally.ended(50 * MS, 0);
        tally.ended(130 * MS, 30 * MS);

        CallTally.Delta d = tally.drain(200 * MS);

        assertThat(d.calls()).isEqualTo(2);
        assertThat(d.billedNanos100ms()).isEqualTo(200 * MS); // 50 ms and 100 ms, each rounded up to 100 ms
        assertThat(d.billedNanos1ms()).isEqualTo(150 * MS);
        assertThat(d.activeNanos100ms()).isEqualTo(200 * MS); // one stretch of 130 ms
        assertThat(d.busyNanos()).isEqualTo(130 * MS);
    }

    @Test
    void aCallRunningAcrossASampleCountsItsBusyTimeInEachAndItsDurationWhenItEnds() {
        CallTally tally = new CallTally();
        tally.started(0);

        CallTally.Delta first = tally.drain(40 * MS);
        assertThat(first.calls()).isZero();
        assertThat(first.busyNanos()).isEqualTo(40 * MS);
        assertThat(tally.idle()).isFalse();

        tally.ended(100 * MS, 0);
        CallTally.Delta second = tally.drain(150 * MS);
        assertThat(second.calls()).isEqualTo(1);
        assertThat(second.busyNanos()).isEqualTo(60 * MS);
        assertThat(second.durationNanos()).isEqualTo(100 * MS);
        assertThat(second.billedNanos100ms()).isEqualTo(100 * MS);
        assertThat(tally.idle()).isTrue();
    }
}
