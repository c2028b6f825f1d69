/* lg: Chatter load generator -- one epoll loop, many WebSocket clients, in C.
 *
 * Why C: a Python client on one core cannot absorb Node `ws` fan-out (hundreds of
 * thousands of frames/s); this one parses frames in place and does no allocation per
 * delivery, so the server under test is the bottleneck (lg reports its own CPU use so
 * that can be checked).
 *
 * It speaks PROTOCOL.md section 4 over ws:// to 127.0.0.1 only: HTTP/1.1 upgrade (optional
 * `Authorization: Bearer`), then {"type":"hello"}, waits for "ready", then sends
 * {"type":"send",...} and counts every "message" element it receives, whether the frame
 * holds one JSON object or an array of them (coalescing).  With --proto sio the same JSON
 * travels as socket.io events: 42["msg",{...}] (Engine.IO v4 over websocket).
 *
 * Each message body is "b<g>:<t>" + padding, g a global message number and t the send time
 * (CLOCK_MONOTONIC, us), so a receiver finds its latency and which message it completes
 * without any lookup.  Expected deliveries of a message = the non-slow members of the
 * sender's room that were ready when it was sent; lost = expected - received after drain.
 *
 * Every loop is bounded: --max-time caps the whole run (default 900 s).
 * Output: one JSON object on stdout; progress on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_FREE, ST_CONNECTING, ST_HS, ST_EIO, ST_SIO_NS, ST_HELLO, ST_READY, ST_DEAD };
enum { PROTO_RAW, PROTO_SIO };

typedef struct {
    int fd, state, idx, room, slow, sender;
    char *in; size_t inlen, incap;
    char *out; size_t outlen, outoff, outcap;
    int want_out;
    double t_start, t_ready;
    double next_send_ok;
    char *frag; size_t fraglen; int frag_active;
} conn_t;

/* ---------- latency histogram: exact below 2048 us, then 1024 sub-buckets per octave ---- */
#define HB 40000
typedef struct { uint64_t n, max, sum; uint32_t b[HB]; } hist_t;
static int hbucket(uint64_t us) {
    if (us < 2048) return (int)us;
    int e = 63 - __builtin_clzll(us);
    int i = 2048 + (e - 11) * 1024 + (int)((us >> (e - 10)) - 1024);
    return i < HB ? i : HB - 1;
}
static uint64_t hvalue(int i) {
    if (i < 2048) return (uint64_t)i;
    int k = (i - 2048) / 1024, m = (i - 2048) % 1024 + 1024;
    return (uint64_t)m << (k + 1);
}
static void hadd(hist_t *h, uint64_t us) { h->b[hbucket(us)]++; h->n++; h->sum += us; if (us > h->max) h->max = us; }
static double hpct(const hist_t *h, double p) {
    if (!h->n) return -1;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n); if (want >= h->n) want = h->n - 1;
    uint64_t c = 0;
    for (int i = 0; i < HB; i++) { c += h->b[i]; if (c > want) return (double)hvalue(i); }
    return (double)h->max;
}

/* ---------- options ---------- */
static const char *o_host = "127.0.0.1", *o_path = "/ws", *o_tokens = NULL, *o_room = "r";
static int o_port = 9001, o_conns = 100, o_proto = PROTO_RAW, o_room_size = 0, o_senders = 0;
static int o_cc = 0, o_slow = 0, o_hello_rooms = 0, o_window = 0, o_pad = 48, o_server_pid = 0;
static double o_rates[32]; static int o_nsteps = 0;
static double o_duration = 5, o_warmup = 1, o_drain = 10, o_connect_timeout = 60, o_hold = 0;
static const char *o_mark = NULL; /* --mark FILE: a line per step start, for drivers that time side loads */
static double o_max_time = 900, o_per_sock = 15, o_stop_p99_ms = 0, o_idle = 0;

/* ---------- state ---------- */
static conn_t *C; static int ep;
static char **tok, **roomids; static int ntok;
static int nrooms; static int *room_ready;
static uint32_t *m_recv, *m_exp; static uint8_t *m_step; static size_t m_cap, m_sent;
static uint64_t acks, errors, closes_before_ready, connect_err, hs_fail, timeouts, deaths_after_ready;
static uint64_t close_codes[5000]; static uint64_t dups, frames_rx, bytes_rx;
static hist_t *H; static hist_t conn_hist; /* per step latency; connect-to-ready (ms) */
static uint64_t step_recv_window[32]; static int cur_step = -1; static double step_t0[32], step_t1[32];
static double meas_t0[32]; static uint64_t srv_cpu0[32], srv_cpu1[32], lg_cpu0[32], lg_cpu1[32], mach0[32], mach1[32];
static long srv_rss_max_kb; static int n_ready, n_dead, n_started;
static uint64_t outstanding; /* messages not yet fully delivered */
static uint32_t rng = 2463534242u;

static double now_s(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec / 1e9; }
static uint64_t now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return (uint64_t)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000; }
static void die(const char *fmt, ...) { va_list a; va_start(a, fmt); fprintf(stderr, "lg: "); vfprintf(stderr, fmt, a); fprintf(stderr, "\n"); va_end(a); exit(2); }
static void *xrealloc(void *p, size_t n) { p = realloc(p, n); if (!p && n) die("out of memory"); return p; }

static uint64_t proc_cpu_us(int pid) { /* utime+stime of a whole process, in us */
    if (!pid) return 0;
    char path[64], buf[4096]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r"); if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;
    char *p = strrchr(buf, ')'); if (!p) return 0; p += 2;
    unsigned long long ut = 0, st = 0; int field = 3;
    for (char *s = p; *s && field <= 15; field++) {
        if (field == 14) ut = strtoull(s, NULL, 10);
        if (field == 15) st = strtoull(s, NULL, 10);
        s = strchr(s, ' '); if (!s) break; s++;
    }
    return (ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}
static long proc_rss_kb(int pid) {
    if (!pid) return 0;
    char path[64], line[256]; snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r"); if (!f) return 0; long kb = 0;
    while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) { kb = atol(line + 6); break; }
    fclose(f); return kb;
}
static uint64_t machine_busy_us(void) { /* all cores' non-idle time, from /proc/stat */
    FILE *f = fopen("/proc/stat", "r"); if (!f) return 0;
    unsigned long long v[10] = {0}; char tag[16];
    int n = fscanf(f, "%15s %llu %llu %llu %llu %llu %llu %llu %llu", tag, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f); if (n < 9) return 0;
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}
static uint64_t self_cpu_us(void) {
    struct rusage r; getrusage(RUSAGE_SELF, &r);
    return (uint64_t)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000ull + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

/* ---------- output buffer ---------- */
static void out_reserve(conn_t *c, size_t n) {
    if (c->outoff && c->outoff == c->outlen) c->outoff = c->outlen = 0;
    if (c->outlen + n > c->outcap) {
        if (c->outoff) { memmove(c->out, c->out + c->outoff, c->outlen - c->outoff); c->outlen -= c->outoff; c->outoff = 0; }
        if (c->outlen + n > c->outcap) { c->outcap = (c->outlen + n) * 2; c->out = xrealloc(c->out, c->outcap); }
    }
}
static void set_events(conn_t *c) {
    struct epoll_event ev = {0}; ev.data.u32 = (uint32_t)c->idx;
    ev.events = (c->slow && c->state == ST_READY) ? 0 : EPOLLIN;
    if (c->state == ST_CONNECTING || c->outlen > c->outoff) ev.events |= EPOLLOUT;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = (ev.events & EPOLLOUT) != 0;
}
static void kill_conn(conn_t *c, const char *why);
static void flush(conn_t *c) {
    while (c->outlen > c->outoff) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (w > 0) { c->outoff += (size_t)w; continue; }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (w < 0 && errno == EINTR) continue;
        kill_conn(c, "send failed"); return;
    }
    if (c->outoff == c->outlen) c->outoff = c->outlen = 0;
    int need = c->outlen > c->outoff;
    if (need != c->want_out) set_events(c);
}
static void ws_send(conn_t *c, int opcode, const char *p, size_t n) {
    const char *pre = NULL; size_t pren = 0, post = 0;
    int bare = opcode & 0x100; opcode &= 0xff; /* 0x100: an Engine.IO control packet, not wrapped */
    if (o_proto == PROTO_SIO && opcode == 1 && !bare) { pre = "42[\"msg\","; pren = 9; post = 1; }
    size_t plen = pren + n + post;
    out_reserve(c, plen + 14);
    unsigned char *h = (unsigned char *)c->out + c->outlen; size_t hl = 0;
    h[hl++] = 0x80 | (unsigned char)opcode;
    if (plen < 126) h[hl++] = 0x80 | (unsigned char)plen;
    else if (plen < 65536) { h[hl++] = 0x80 | 126; h[hl++] = (unsigned char)(plen >> 8); h[hl++] = (unsigned char)plen; }
    else { h[hl++] = 0x80 | 127; for (int i = 7; i >= 0; i--) h[hl++] = (unsigned char)((uint64_t)plen >> (8 * i)); }
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    unsigned char mk[4]; memcpy(mk, &rng, 4); memcpy(h + hl, mk, 4); hl += 4;
    unsigned char *d = h + hl; size_t j = 0;
    for (size_t i = 0; i < pren; i++, j++) d[j] = (unsigned char)pre[i] ^ mk[j & 3];
    for (size_t i = 0; i < n; i++, j++) d[j] = (unsigned char)p[i] ^ mk[j & 3];
    if (post) { d[j] = (unsigned char)']' ^ mk[j & 3]; j++; }
    c->outlen += hl + plen;
}

static void kill_conn(conn_t *c, const char *why) {
    if (c->state == ST_DEAD || c->state == ST_FREE) return;
    if (c->state == ST_READY) {
        deaths_after_ready++; n_ready--;
        if (!c->slow) room_ready[c->room]--;
        if (deaths_after_ready <= 5) fprintf(stderr, "lg: conn %d lost after ready: %s\n", c->idx, why);
    } else if (c->state != ST_CONNECTING && c->state != ST_HS) closes_before_ready++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd);
    c->state = ST_DEAD; n_dead++;
}

/* ---------- JSON scanning (values we emit never need escaping) ---------- */
static const char *find_key(const char *p, const char *end, const char *key, size_t kl) {
    /* returns pointer just past the ':' of "key": (whitespace tolerant) */
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), key, kl); if (!q) return NULL;
        q += kl; while (q < end && (*q == ' ' || *q == '\t')) q++;
        if (q < end && *q == ':') { q++; while (q < end && (*q == ' ' || *q == '\t')) q++; return q; }
        p = q;
    }
    return NULL;
}
static int count_type(const char *p, const char *end, const char *val) {
    size_t vl = strlen(val); int n = 0;
    while ((p = find_key(p, end, "\"type\"", 6))) {
        if (p < end && *p == '"' && (size_t)(end - p) > vl + 1 && !memcmp(p + 1, val, vl) && p[1 + vl] == '"') n++;
    }
    return n;
}
static void on_ready(conn_t *c) {
    c->state = ST_READY; c->t_ready = now_s(); n_ready++;
    if (!c->slow) room_ready[c->room]++;
    hadd(&conn_hist, (uint64_t)((c->t_ready - c->t_start) * 1000.0));
    if (c->slow) set_events(c);
}
static void process_json(conn_t *c, const char *p, size_t n) {
    const char *end = p + n;
    if (c->state == ST_HELLO) {
        if (count_type(p, end, "ready")) on_ready(c);
        else if (count_type(p, end, "error")) { fprintf(stderr, "lg: error before ready: %.*s\n", (int)(n > 300 ? 300 : n), p); kill_conn(c, "error before ready"); return; }
    }
    if (memmem(p, n, "\"ack\"", 5)) acks += (uint64_t)count_type(p, end, "ack");
    if (memmem(p, n, "\"error\"", 7)) {
        int e = count_type(p, end, "error"); errors += (uint64_t)e;
        if (e && errors <= 5) fprintf(stderr, "lg: server error: %.*s\n", (int)(n > 300 ? 300 : n), p);
    }
    const char *q = p;
    uint64_t t = now_us();
    while ((q = find_key(q, end, "\"body\"", 6))) {
        if (q + 2 >= end || q[0] != '"' || q[1] != 'b') continue;
        char *e; uint64_t g = strtoull(q + 2, &e, 10);
        if (*e != ':' || g >= m_sent) continue;
        uint64_t ts = strtoull(e + 1, NULL, 10);
        int st = m_step[g];
        m_recv[g]++;
        if (m_recv[g] > m_exp[g]) dups++;
        else if (m_recv[g] == m_exp[g]) outstanding--;
        hadd(&H[st], t > ts ? t - ts : 0);
        if (cur_step >= 0 && (double)t / 1e6 >= meas_t0[cur_step] && step_t1[cur_step] == 0) step_recv_window[cur_step]++;
        q = e;
    }
}
static void on_payload(conn_t *c, int op, const char *p, size_t n) {
    frames_rx++;
    if (o_proto == PROTO_SIO) {
        if (n >= 1 && p[0] == '2' && n == 1) { ws_send(c, 1 | 0x100, "3", 1); return; }
        if (n >= 1 && p[0] == '0' && c->state == ST_EIO) { c->state = ST_SIO_NS; ws_send(c, 1 | 0x100, "40", 2); return; }
        if (n >= 2 && p[0] == '4' && p[1] == '0' && c->state == ST_SIO_NS) {
            c->state = ST_HELLO;
            char hb[256]; int hl;
            if (o_hello_rooms) hl = snprintf(hb, sizeof hb, "{\"type\":\"hello\",\"rooms\":[\"%s\"]}", roomids[c->idx]);
            else hl = snprintf(hb, sizeof hb, "{\"type\":\"hello\"}");
            ws_send(c, 1, hb, (size_t)hl); return;
        }
        if (n >= 2 && p[0] == '4' && p[1] == '1') { kill_conn(c, "sio disconnect"); return; }
        if (n >= 2 && p[0] == '4' && p[1] == '2') { process_json(c, p + 2, n - 2); return; }
        return;
    }
    (void)op;
    process_json(c, p, n);
}
static void send_hello(conn_t *c) {
    if (o_proto == PROTO_SIO) { c->state = ST_EIO; return; }
    c->state = ST_HELLO;
    char hb[256]; int hl;
    if (o_hello_rooms) hl = snprintf(hb, sizeof hb, "{\"type\":\"hello\",\"rooms\":[\"%s\"]}", roomids[c->idx]);
    else hl = snprintf(hb, sizeof hb, "{\"type\":\"hello\"}");
    ws_send(c, 1, hb, (size_t)hl);
}
static void parse_in(conn_t *c) {
    size_t off = 0;
    if (c->state == ST_HS) {
        char *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
        if (!e) { if (c->inlen > 16384) { hs_fail++; kill_conn(c, "huge handshake"); } return; }
        if (c->inlen < 12 || memcmp(c->in + 9, "101", 3)) {
            hs_fail++;
            if (hs_fail <= 3) fprintf(stderr, "lg: handshake refused: %.*s\n", (int)((e - c->in) > 200 ? 200 : (e - c->in)), c->in);
            kill_conn(c, "handshake"); return;
        }
        off = (size_t)(e - c->in) + 4;
        send_hello(c);
    }
    while (c->state != ST_DEAD) {
        size_t avail = c->inlen - off; if (avail < 2) break;
        const unsigned char *h = (const unsigned char *)c->in + off;
        int fin = h[0] & 0x80, op = h[0] & 0x0f, masked = h[1] & 0x80; uint64_t len = h[1] & 0x7f; size_t hl = 2;
        if (len == 126) { if (avail < 4) break; len = ((uint64_t)h[2] << 8) | h[3]; hl = 4; }
        else if (len == 127) { if (avail < 10) break; len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i]; hl = 10; }
        if (masked) hl += 4;
        if (avail < hl + len) {
            if (hl + len > c->incap) { c->incap = hl + len + 4096; c->in = xrealloc(c->in, c->incap); }
            break;
        }
        const char *pl = c->in + off + hl; bytes_rx += len;
        if (op == 8) {
            int code = len >= 2 ? (((unsigned char)pl[0] << 8) | (unsigned char)pl[1]) : 1005;
            close_codes[code < 5000 ? code : 0]++;
            if (c->state == ST_READY && deaths_after_ready < 5) fprintf(stderr, "lg: close %d: %.*s\n", code, (int)(len > 2 ? len - 2 : 0), pl + 2);
            kill_conn(c, "close frame"); return;
        } else if (op == 9) { ws_send(c, 10, pl, len); }
        else if (op == 10) { }
        else if (op == 0 || !fin) { /* fragmented message */
            if (op != 0) c->fraglen = 0;
            c->frag = xrealloc(c->frag, c->fraglen + len + 1); memcpy(c->frag + c->fraglen, pl, len); c->fraglen += len;
            if (fin) { on_payload(c, 1, c->frag, c->fraglen); c->fraglen = 0; }
        } else on_payload(c, op, pl, len);
        off += hl + len;
    }
    if (c->state == ST_DEAD) return;
    if (off) { memmove(c->in, c->in + off, c->inlen - off); c->inlen -= off; }
    if (c->outlen > c->outoff) flush(c);
}
static void on_readable(conn_t *c) {
    for (int loops = 0; loops < 64; loops++) {
        if (c->incap - c->inlen < 16384) { c->incap = c->incap * 2 + 65536; c->in = xrealloc(c->in, c->incap); }
        ssize_t r = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
        if (r > 0) { c->inlen += (size_t)r; parse_in(c); if (c->state == ST_DEAD) return; if ((size_t)r < 16384) break; continue; }
        if (r == 0) { if (c->state == ST_HS) hs_fail++; kill_conn(c, "eof"); return; }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        kill_conn(c, "recv error"); return;
    }
}
static void start_conn(conn_t *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->slow) { int rb = 4096; setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb); }
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons((uint16_t)o_port);
    inet_pton(AF_INET, o_host, &a.sin_addr);
    c->fd = fd; c->t_start = now_s(); c->state = ST_CONNECTING; n_started++;
    struct epoll_event ev = {0}; ev.data.u32 = (uint32_t)c->idx; ev.events = EPOLLIN | EPOLLOUT;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev); c->want_out = 1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { connect_err++; kill_conn(c, "connect"); }
}
static void on_connected(conn_t *c) {
    int err = 0; socklen_t l = sizeof err; getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) { connect_err++; if (connect_err <= 3) fprintf(stderr, "lg: connect: %s\n", strerror(err)); kill_conn(c, "connect"); return; }
    c->state = ST_HS;
    char req[4096];
    const char *path = o_proto == PROTO_SIO ? "/socket.io/?EIO=4&transport=websocket" : o_path;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, o_host, o_port, tok ? "Authorization: Bearer " : "", tok ? tok[c->idx] : "", tok ? "\r\n" : "");
    out_reserve(c, (size_t)n); memcpy(c->out + c->outlen, req, (size_t)n); c->outlen += (size_t)n;
    flush(c); if (c->state != ST_DEAD) set_events(c);
}

/* ---------- sending ---------- */
static int rr;
static char padbuf[4096];
static char cidp[48]; /* client_msg_id prefix, unique per lg run: several runs may share a server and its users */
static int send_one(double tnow, int step) {
    for (int tries = 0; tries < o_conns; tries++) {
        conn_t *c = &C[rr]; rr = (rr + 1) % o_conns;
        if (!c->sender || c->state != ST_READY || c->slow || c->next_send_ok > tnow || c->outlen - c->outoff > 65536) continue;
        if (m_sent == m_cap) {
            m_cap = m_cap ? m_cap * 2 : 1 << 16;
            m_recv = xrealloc(m_recv, m_cap * 4); m_exp = xrealloc(m_exp, m_cap * 4); m_step = xrealloc(m_step, m_cap);
        }
        uint64_t g = m_sent++;
        m_recv[g] = 0; m_exp[g] = (uint32_t)room_ready[c->room]; m_step[g] = (uint8_t)step;
        if (m_exp[g]) outstanding++;
        char b[8192];
        int n = snprintf(b, sizeof b, "{\"type\":\"send\",\"room\":\"%s\",\"client_msg_id\":\"%s%llu\",\"body\":\"b%llu:%llu%.*s\"}",
                         roomids[c->idx], cidp, (unsigned long long)g, (unsigned long long)g, (unsigned long long)now_us(), o_pad, padbuf);
        ws_send(c, 1, b, (size_t)n);
        c->next_send_ok = tnow + 1.0 / o_per_sock;
        flush(c);
        return 1;
    }
    return 0;
}

static void pump(double timeout_s) {
    static struct epoll_event evs[1024];
    int n = epoll_wait(ep, evs, 1024, (int)(timeout_s * 1000));
    for (int i = 0; i < n; i++) {
        conn_t *c = &C[evs[i].data.u32];
        if (c->state == ST_DEAD || c->state == ST_FREE) continue;
        if (c->state == ST_CONNECTING) { if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c); continue; }
        if (evs[i].events & EPOLLOUT) flush(c);
        if (c->state == ST_DEAD) continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
}

static void usage(void) {
    fprintf(stderr,
        "usage: lg --port P [--proto raw|sio] [--path /ws] [--conns N] [--tokens FILE (token [room] per line)]\n"
        "          [--room ID] [--room-size K] [--hello-rooms] [--senders S] [--cc N] [--slow K]\n"
        "          [--rate R[,R2,...] msgs/s, 0 = closed loop] [--window W] [--duration S per step] [--warmup S]\n"
        "          [--drain S] [--hold S] [--idle S] [--pad N] [--per-sock MAX/s] [--stop-p99-ms X]\n"
        "          [--server-pid PID] [--connect-timeout S] [--max-time S] [--mark FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i]; const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--port")) o_port = atoi(v);
        else if (ARG("--host")) o_host = v;
        else if (ARG("--path")) o_path = v;
        else if (ARG("--proto")) o_proto = !strcmp(v, "sio") ? PROTO_SIO : PROTO_RAW;
        else if (ARG("--conns")) o_conns = atoi(v);
        else if (ARG("--tokens")) o_tokens = v;
        else if (ARG("--room")) o_room = v;
        else if (ARG("--room-size")) o_room_size = atoi(v);
        else if (!strcmp(a, "--hello-rooms")) o_hello_rooms = 1;
        else if (ARG("--senders")) o_senders = atoi(v);
        else if (ARG("--cc")) o_cc = atoi(v);
        else if (ARG("--slow")) o_slow = atoi(v);
        else if (ARG("--rate")) { char *s = strdup(v); for (char *t = strtok(s, ","); t && o_nsteps < 32; t = strtok(NULL, ",")) o_rates[o_nsteps++] = atof(t); }
        else if (ARG("--window")) o_window = atoi(v);
        else if (ARG("--duration")) o_duration = atof(v);
        else if (ARG("--warmup")) o_warmup = atof(v);
        else if (ARG("--drain")) o_drain = atof(v);
        else if (ARG("--hold")) o_hold = atof(v);
        else if (ARG("--idle")) o_idle = atof(v);
        else if (ARG("--pad")) o_pad = atoi(v);
        else if (ARG("--per-sock")) o_per_sock = atof(v);
        else if (ARG("--stop-p99-ms")) o_stop_p99_ms = atof(v);
        else if (ARG("--server-pid")) o_server_pid = atoi(v);
        else if (ARG("--connect-timeout")) o_connect_timeout = atof(v);
        else if (ARG("--max-time")) o_max_time = atof(v);
        else if (ARG("--mark")) o_mark = v;
        else usage();
    }
    if (strcmp(o_host, "127.0.0.1")) die("loopback only: --host must be 127.0.0.1");
    if (o_conns <= 0 || o_pad < 0 || o_pad > 4000) usage();
    memset(padbuf, 'x', sizeof padbuf);
    { struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
      snprintf(cidp, sizeof cidp, "c%x.%lx.%lx.", (unsigned)getpid(), (long)ts.tv_sec, (long)ts.tv_nsec); }
    struct rlimit rl = {(rlim_t)o_conns + 1024, (rlim_t)o_conns + 1024};
    if (setrlimit(RLIMIT_NOFILE, &rl)) { getrlimit(RLIMIT_NOFILE, &rl); if (rl.rlim_cur < (rlim_t)o_conns + 64) die("need %d fds, have %ld", o_conns + 64, (long)rl.rlim_cur); }

    /* rooms and tokens */
    roomids = calloc((size_t)o_conns, sizeof *roomids);
    if (o_tokens) {
        FILE *f = fopen(o_tokens, "r"); if (!f) die("tokens: %s", strerror(errno));
        tok = calloc((size_t)o_conns, sizeof *tok); char line[8192];
        while (ntok < o_conns && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0; char *sp = strchr(line, ' ');
            if (sp) { *sp = 0; roomids[ntok] = strdup(sp + 1); }
            tok[ntok++] = strdup(line);
        }
        fclose(f); if (ntok < o_conns) die("tokens file has %d lines, need %d", ntok, o_conns);
    }
    C = calloc((size_t)o_conns, sizeof *C);
    int rs = o_room_size > 0 ? o_room_size : o_conns;
    nrooms = (o_conns + rs - 1) / rs; room_ready = calloc((size_t)nrooms, sizeof *room_ready);
    int nsend = o_senders > 0 ? o_senders : o_conns;
    for (int i = 0; i < o_conns; i++) {
        C[i].idx = i; C[i].room = i / rs; C[i].fd = -1;
        if (!roomids[i]) {
            char b[64];
            if (o_room_size > 0) snprintf(b, sizeof b, "r%d", i / rs); else snprintf(b, sizeof b, "%s", o_room);
            roomids[i] = strdup(b);
        }
    }
    /* senders spread evenly; slow consumers are the last K of room 0 that do not send */
    for (int k = 0; k < nsend; k++) C[(int)((long)k * o_conns / nsend)].sender = 1;
    for (int k = 0; k < o_slow && k < rs; k++) { C[rs - 1 - k].slow = 1; C[rs - 1 - k].sender = 0; }
    if (o_nsteps == 0) { o_rates[0] = -1; o_nsteps = 1; } /* -1: connect only */
    H = calloc((size_t)o_nsteps, sizeof *H);
    ep = epoll_create1(EPOLL_CLOEXEC);
    double T0 = now_s(), deadline = T0 + o_max_time;
    uint64_t srv_cpu_start = proc_cpu_us(o_server_pid); long rss_start = proc_rss_kb(o_server_pid);

    /* phase 1: connect everyone (at most --cc handshakes in flight) */
    int next = 0, cc = o_cc > 0 ? o_cc : o_conns;
    double tc_end = T0 + o_connect_timeout;
    while (now_s() < tc_end && now_s() < deadline) {
        while (next < o_conns && (n_started - n_ready - n_dead) < cc) start_conn(&C[next++]);
        if (n_ready + n_dead >= o_conns) break;
        pump(0.005);
    }
    double t_connected = now_s();
    for (int i = 0; i < o_conns; i++) if (C[i].state != ST_READY && C[i].state != ST_DEAD) { timeouts++; kill_conn(&C[i], "connect timeout"); }
    if (next < o_conns) timeouts += (uint64_t)(o_conns - next);
    fprintf(stderr, "lg: %d/%d ready in %.3f s (connect_err=%llu hs_fail=%llu closed=%llu timeouts=%llu)\n", n_ready, o_conns,
            t_connected - T0, (unsigned long long)connect_err, (unsigned long long)hs_fail, (unsigned long long)closes_before_ready, (unsigned long long)timeouts);
    /* let the server settle, then read its RSS */
    double th = now_s() + o_hold; while (now_s() < th && now_s() < deadline) pump(0.05);
    long rss_ready = proc_rss_kb(o_server_pid); uint64_t srv_cpu_ready = proc_cpu_us(o_server_pid);
    srv_rss_max_kb = rss_ready;

    /* phase 2: steps of offered load */
    int steps_run = 0; double last_rss_t = 0;
    if (o_rates[0] >= 0 && n_ready > 0) {
        for (int s = 0; s < o_nsteps && now_s() < deadline; s++) {
            cur_step = s; steps_run++;
            if (o_mark) { FILE *mf = fopen(o_mark, "a"); if (mf) { fprintf(mf, "step %d\n", s); fclose(mf); } }
            double t0 = now_s(); step_t0[s] = t0;
            meas_t0[s] = t0 + (s == 0 ? o_warmup : 0);
            double tend = meas_t0[s] + o_duration; int measuring = 0;
            uint64_t sent_in_step = 0; double rate = o_rates[s];
            while (now_s() < tend && now_s() < deadline) {
                double tn = now_s();
                if (!measuring && tn >= meas_t0[s]) { measuring = 1; srv_cpu0[s] = proc_cpu_us(o_server_pid); lg_cpu0[s] = self_cpu_us(); mach0[s] = machine_busy_us(); }
                if (rate > 0) {
                    uint64_t target = (uint64_t)((tn - t0) * rate);
                    for (int burst = 0; sent_in_step < target && burst < 2000; burst++) { if (!send_one(tn, s)) break; sent_in_step++; }
                } else {
                    int w = o_window > 0 ? o_window : 8;
                    for (int burst = 0; outstanding < (uint64_t)w && burst < 2000; burst++) if (!send_one(tn, s)) break;
                }
                if (tn - last_rss_t > 0.5) { long r = proc_rss_kb(o_server_pid); if (r > srv_rss_max_kb) srv_rss_max_kb = r; last_rss_t = tn; }
                pump(rate > 0 ? 0.001 : 0.002);
            }
            step_t1[s] = now_s(); srv_cpu1[s] = proc_cpu_us(o_server_pid); lg_cpu1[s] = self_cpu_us(); mach1[s] = machine_busy_us();
            fprintf(stderr, "lg: step %d rate=%g sent=%llu window_deliveries=%llu (%.0f/s) p99=%.0fus\n", s, rate,
                    (unsigned long long)sent_in_step, (unsigned long long)step_recv_window[s],
                    step_recv_window[s] / (step_t1[s] - meas_t0[s]), hpct(&H[s], 99));
            if (o_stop_p99_ms > 0) {
                /* stop the ramp once p99 > X, counting undelivered messages older than X as late */
                uint64_t late = 0, tot = H[s].n, tnu = now_us();
                for (size_t g = 0; g < m_sent; g++) if (m_step[g] == s && m_recv[g] < m_exp[g]) { tot += m_exp[g] - m_recv[g]; (void)tnu; late += m_exp[g] - m_recv[g]; }
                uint64_t over = late; for (int b = hbucket((uint64_t)(o_stop_p99_ms * 1000)); b < HB; b++) over += H[s].b[b];
                if (tot && (double)over / (double)tot > 0.01) { fprintf(stderr, "lg: p99 > %g ms at step %d, ramp stops\n", o_stop_p99_ms, s); break; }
            }
        }
    }
    cur_step = -1;
    /* phase 3: drain */
    double tdrain = now_s() + o_drain;
    while (now_s() < tdrain && now_s() < deadline && (outstanding > 0 || acks + errors < m_sent)) {
        pump(0.01);
        double tn = now_s(); if (tn - last_rss_t > 0.5) { long r = proc_rss_kb(o_server_pid); if (r > srv_rss_max_kb) srv_rss_max_kb = r; last_rss_t = tn; }
    }
    double ti = now_s() + o_idle; while (now_s() < ti && now_s() < deadline) pump(0.05);
    long rss_end = proc_rss_kb(o_server_pid); if (rss_end > srv_rss_max_kb) srv_rss_max_kb = rss_end;

    uint64_t expected = 0, received = 0, lost = 0;
    for (size_t g = 0; g < m_sent; g++) { expected += m_exp[g]; received += m_recv[g] < m_exp[g] ? m_recv[g] : m_exp[g]; if (m_recv[g] < m_exp[g]) lost += m_exp[g] - m_recv[g]; }

    /* JSON report */
    printf("{\"conns\":%d,\"ready\":%d,\"proto\":\"%s\",\"connect\":{\"t_all_ready_s\":%.4f,\"connect_err\":%llu,\"hs_fail\":%llu,"
           "\"closed_before_ready\":%llu,\"timeouts\":%llu,\"ready_ms_p50\":%.1f,\"ready_ms_p99\":%.1f,\"ready_ms_max\":%llu},",
           o_conns, n_ready, o_proto == PROTO_SIO ? "sio" : "raw", t_connected - T0, (unsigned long long)connect_err,
           (unsigned long long)hs_fail, (unsigned long long)closes_before_ready, (unsigned long long)timeouts,
           hpct(&conn_hist, 50), hpct(&conn_hist, 99), (unsigned long long)conn_hist.max);
    printf("\"server\":{\"pid\":%d,\"rss_start_kb\":%ld,\"rss_ready_kb\":%ld,\"rss_max_kb\":%ld,\"rss_end_kb\":%ld,\"cpu_connect_us\":%llu},",
           o_server_pid, rss_start, rss_ready, srv_rss_max_kb, rss_end, (unsigned long long)(srv_cpu_ready - srv_cpu_start));
    printf("\"sent\":%llu,\"acks\":%llu,\"errors\":%llu,\"expected\":%llu,\"received\":%llu,\"lost\":%llu,\"dups\":%llu,"
           "\"deaths_after_ready\":%llu,\"frames_rx\":%llu,\"bytes_rx\":%llu,\"close_codes\":{",
           (unsigned long long)m_sent, (unsigned long long)acks, (unsigned long long)errors, (unsigned long long)expected,
           (unsigned long long)received, (unsigned long long)lost, (unsigned long long)dups, (unsigned long long)deaths_after_ready,
           (unsigned long long)frames_rx, (unsigned long long)bytes_rx);
    int first = 1; for (int i = 0; i < 5000; i++) if (close_codes[i]) { printf("%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)close_codes[i]); first = 0; }
    printf("},\"steps\":[");
    for (int s = 0; s < steps_run; s++) {
        double win = step_t1[s] - meas_t0[s]; uint64_t sexp = 0, slost = 0, ssent = 0;
        for (size_t g = 0; g < m_sent; g++) if (m_step[g] == s) { ssent++; sexp += m_exp[g]; if (m_recv[g] < m_exp[g]) slost += m_exp[g] - m_recv[g]; }
        uint64_t dcpu = srv_cpu1[s] - srv_cpu0[s], lcpu = lg_cpu1[s] - lg_cpu0[s];
        printf("%s{\"rate\":%g,\"window_s\":%.3f,\"sent\":%llu,\"expected\":%llu,\"lost\":%llu,\"deliveries_in_window\":%llu,"
               "\"deliveries_per_s\":%.1f,\"msgs_per_s\":%.2f,\"lat_us\":{\"n\":%llu,\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%llu,\"mean\":%.1f},"
               "\"server_cpu_us\":%llu,\"server_cpu_util\":%.3f,\"server_cpu_us_per_delivery\":%.3f,\"lg_cpu_util\":%.3f,\"foreign_cpu_cores\":%.3f}",
               s ? "," : "", o_rates[s], win, (unsigned long long)ssent, (unsigned long long)sexp, (unsigned long long)slost,
               (unsigned long long)step_recv_window[s], step_recv_window[s] / win, ssent / (step_t1[s] - step_t0[s]),
               (unsigned long long)H[s].n, hpct(&H[s], 50), hpct(&H[s], 90), hpct(&H[s], 99), hpct(&H[s], 99.9),
               (unsigned long long)H[s].max, H[s].n ? (double)H[s].sum / H[s].n : -1.0,
               (unsigned long long)dcpu, dcpu / 1e6 / win, step_recv_window[s] ? (double)dcpu / step_recv_window[s] : -1.0, lcpu / 1e6 / win,
               ((double)(mach1[s] - mach0[s]) - (double)dcpu - (double)lcpu) / 1e6 / win);
    }
    printf("],\"lg_cpu_total_s\":%.3f,\"wall_s\":%.3f}\n", self_cpu_us() / 1e6, now_s() - T0);
    for (int i = 0; i < o_conns; i++) if (C[i].state != ST_DEAD && C[i].state != ST_FREE) close(C[i].fd);
    return 0;
}
