// SPDX-License-Identifier: MIT
/*
 * bridge.c - the C unit's end of the runner protocol (src/kernel-c/bridge.ts).
 *
 * The unit runs as its own sanitized process; fd 3 carries messages to the
 * runner, fd 4 requests from it. A message is u64 words: a header
 * (op | line << 8 | nargs << 32), the site (file id | func id << 32), then
 * nargs words. Services that return something wait for a two-word reply;
 * the others are buffered and go out with the next message that waits, so
 * the runner still sees every call, in order. Strings (file names, the
 * size expression of an allocation, a WARN condition) are sent once and
 * named by id afterwards.
 *
 * Requests on channel 0 run on the main thread (the conversion unit: one
 * call at a time, no nesting). Requests on channels 1.. run on a worker
 * thread each (the exporter unit): a worker waits in a service call while
 * the runner awaits a lock, and meanwhile another request (a nested one, the
 * release an fput ran, or a racing operation) runs on another worker. The
 * runner answers one call at a time, so exactly one thread runs kernel code
 * at any moment: they share the unit's memory as kernel threads share the
 * kernel's. The main thread reads every runner message and hands it to its
 * channel; each message to a channel starts the output file anew.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kshim.h>
#include "bridge.h"

unsigned long kshim_page_size = 4096;

#define OUT_FD 3
#define IN_FD 4

static u64 out_buf[1 << 14];
static size_t out_len;
static int in_nonblock = -1;

static off_t out_off;
/* Worker threads started (channels 1..): the main thread then blocks on reads instead of spinning. */
static atomic_uint nworkers;

/* Messages go to a regular file (fd 3, on tmpfs) at increasing offsets: the
 * runner polls it with plain reads, which cost far less than waking a process
 * blocked on a pipe. The runner empties the file before each request. */
static void flush_out(void)
{
	const char *p = (const char *)out_buf;
	size_t left = out_len * sizeof(u64);
	off_t off = out_off;

	/* The write is what lets the runner answer, and its answer may start
	 * another thread at once: the shared state is updated first. */
	out_off += (off_t)left;
	out_len = 0;
	while (left) {
		ssize_t n = pwrite(OUT_FD, p, left, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		p += n;
		off += n;
		left -= (size_t)n;
	}
}

static void put_words(const u64 *w, size_t n)
{
	while (n) {
		size_t room = ARRAY_SIZE(out_buf) - out_len;
		size_t take = n < room ? n : room;

		memcpy(out_buf + out_len, w, take * sizeof(u64));
		out_len += take;
		w += take;
		n -= take;
		if (out_len == ARRAY_SIZE(out_buf))
			flush_out();
	}
}

/* Read exactly n bytes; spin briefly on a non-blocking descriptor first (a
 * runner answers within microseconds, and waking a sleeping process on
 * another CPU costs tens of them), then block. EOF ends the unit. */
static void read_exact(void *dst, size_t n)
{
	char *p = dst;
	struct timespec t0, t;
	bool timed = false;

	while (n) {
		ssize_t r = in_nonblock >= 0 && !atomic_load(&nworkers) ? read(in_nonblock, p, n) : read(IN_FD, p, n);

		if (r < 0 && in_nonblock >= 0 && errno == EAGAIN && !atomic_load(&nworkers)) {
			if (!timed) {
				clock_gettime(CLOCK_MONOTONIC, &t0);
				timed = true;
			}
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 2000000L)
				continue;
			r = read(IN_FD, p, n);
			timed = false;
		} else if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r == 0)
			_exit(0);
		if (r < 0)
			_exit(3);
		p += r;
		n -= (size_t)r;
	}
}

/* ---- strings by id ------------------------------------------------------ */
static const char *strs[4096];
static u32 nstrs;

static u32 str_id(const char *s)
{
	u64 w[2 + 64];
	size_t len, words;
	u32 i;

	if (!s)
		return 0;
	for (i = 0; i < nstrs; i++)
		if (strs[i] == s)
			return i + 1;
	if (nstrs == ARRAY_SIZE(strs))
		return 0;
	strs[nstrs++] = s;
	len = strlen(s);
	if (len > 8 * 64)
		len = 8 * 64;
	words = (len + 7) / 8;
	memset(w, 0, sizeof(w));
	w[0] = KSHIM_OP_STR | ((u64)(1 + words) << 32);
	w[1] = nstrs;
	memcpy(&w[2], s, len);
	put_words(w, 2);
	{
		u64 hdr = len;

		put_words(&hdr, 1);
	}
	put_words(&w[2], words);
	return nstrs;
}

/* Header and site of one call; its args follow. */
static void call_begin(enum kshim_op op, struct kshim_site at, u64 nargs)
{
	u32 file = str_id(at.file), func = str_id(at.func);
	u64 w[2] = { op | ((u64)(at.line & 0xffffff) << 8) | (nargs << 32), file | ((u64)func << 32) };

	put_words(w, 2);
}

void kshim_send(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs)
{
	call_begin(op, at, nargs);
	put_words(args, nargs);
}

/* ---- channels: one worker thread each ----------------------------------- */
#define MAX_CHANS 64

struct chan {
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint seq;
	unsigned int seen;
	bool sleeping;
	u64 op;
	u64 *args;
	u64 nargs;
	u64 cap;
	u64 reply[2];
};

static struct chan chans[MAX_CHANS];
static __thread struct chan *cur_chan;

/* Wait for the next message to this channel. No spinning: the main thread
 * must run to deliver it, and with the runner spinning on the other CPU a
 * spinning worker would only keep it from running. */
static void chan_wait(struct chan *c)
{
	if (atomic_load_explicit(&c->seq, memory_order_acquire) == c->seen) {
		pthread_mutex_lock(&c->mu);
		c->sleeping = true;
		while (atomic_load_explicit(&c->seq, memory_order_acquire) == c->seen)
			pthread_cond_wait(&c->cv, &c->mu);
		c->sleeping = false;
		pthread_mutex_unlock(&c->mu);
	}
	c->seen++;
}

static void *chan_main(void *arg)
{
	struct chan *c = arg;

	cur_chan = c;
	for (;;) {
		chan_wait(c);
		if (c->op == KSHIM_REQ_QUIT)
			break;
		kshim_unit_request(c->op, c->args, c->nargs);
	}
	return NULL;
}

/* The main thread: deliver a message (a request, or the reply to a call) to channel n. */
static void chan_deliver(u64 n, u64 op, u64 nargs)
{
	struct chan *c = &chans[n];

	if (op == KSHIM_REQ_REPLY) {
		if (nargs != 2)
			_exit(5);
		read_exact(c->reply, sizeof(c->reply));
	} else {
		if (nargs > c->cap) {
			c->cap = nargs;
			c->args = realloc(c->args, nargs * sizeof(u64));
			if (!c->args)
				_exit(4);
		}
		read_exact(c->args, nargs * sizeof(u64));
		c->op = op;
		c->nargs = nargs;
	}
	out_off = 0;
	if (!c->started) {
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		c->started = true;
		atomic_fetch_add(&nworkers, 1);
		if (pthread_create(&c->th, NULL, chan_main, c))
			_exit(6);
	}
	pthread_mutex_lock(&c->mu);
	atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
	if (c->sleeping)
		pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void kshim_call(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs, u64 reply[2])
{
	kshim_send(op, at, args, nargs);
	flush_out();
	if (cur_chan) {
		chan_wait(cur_chan);
		reply[0] = cur_chan->reply[0];
		reply[1] = cur_chan->reply[1];
		return;
	}
	read_exact(reply, 2 * sizeof(u64));
}

u64 kshim_call1(enum kshim_op op, struct kshim_site at, const u64 *args, u64 nargs)
{
	u64 r[2];

	kshim_call(op, at, args, nargs, r);
	return r[0];
}

void kshim_flush(void)
{
	flush_out();
}

u32 kshim_str(const char *s)
{
	return str_id(s);
}

void kshim_reply(u64 op, const u64 *words, u64 n)
{
	struct kshim_site none = { NULL, NULL, 0 };

	call_begin((enum kshim_op)op, none, n);
	put_words(words, n);
	flush_out();
}

/* Called by the sanitizer runtime before it ends the process: what the unit
 * said before it crashed reaches the runner with the report. */
void __sanitizer_set_death_callback(void (*cb)(void));
static void on_death(void)
{
	flush_out();
}

int main(int argc, char **argv)
{
	u64 hdr[2];
	u64 *args = NULL;
	u64 cap = 0;

	(void)argc;
	(void)argv;
	__sanitizer_set_death_callback(on_death);
	in_nonblock = open("/dev/fd/4", O_RDONLY | O_NONBLOCK);
	for (;;) {
		read_exact(hdr, sizeof(hdr));
		if (hdr[0] >> 16) {
			if ((hdr[0] >> 16) >= MAX_CHANS)
				_exit(5);
			chan_deliver(hdr[0] >> 16, hdr[0] & 0xffff, hdr[1]);
			continue;
		}
		if (hdr[1] > cap) {
			cap = hdr[1];
			args = realloc(args, cap * sizeof(u64));
			if (!args)
				_exit(4);
		}
		read_exact(args, hdr[1] * sizeof(u64));
		if (hdr[0] == KSHIM_REQ_QUIT)
			break;
		out_off = 0;
		kshim_unit_request(hdr[0], args, hdr[1]);
	}
	flush_out();
	free(args);
	return 0;
}
