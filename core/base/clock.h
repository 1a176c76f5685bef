/*
 * clock.h - the two clocks jobexec uses: wall time for evidence timestamps,
 * monotonic time for durations and deadlines.
 */
#ifndef JX__BASE_CLOCK_H
#define JX__BASE_CLOCK_H

/* Room for "2026-11-28T14:00:00.123456+00:00" (32 bytes) with space to
 * spare, so that no field width can truncate it. */
#define JX__ISO_TIME_SIZE 64

/* Seconds on a clock that never jumps. */
double jx__monotonic(void);

/* Sleeps ms milliseconds, whatever signals arrive meanwhile. */
void jx__sleep_ms(long ms);

/* Seconds since the epoch, on the wall clock. */
double jx__epoch_now(void);

/* An epoch time (seconds) as jx__iso_now writes the current one. */
void jx__iso_time(double t, char out[JX__ISO_TIME_SIZE]);

/* The current UTC time, ISO 8601 with microseconds. */
void jx__iso_now(char out[JX__ISO_TIME_SIZE]);

#endif
