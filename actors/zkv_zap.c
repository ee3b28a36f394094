/*  =========================================================================
    zkv_zap.c — the ZAP handler of a member (see zkv_zap.h).
    =========================================================================
*/
#include "zkv_zap.h"
#include "zkv_certs.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    zkv_zap_args_t *args;
    zsock_t *handler;                   //  REP: ZeroMQ's questions
    zpoller_t *poller;
    zhashx_t *client_keys;              //  our copies of the sets
    zhashx_t *peer_keys;
    uint64_t refused;                   //  handshakes refused, for the log
    bool terminated;
} self_t;

static const char *
s_start (self_t *self, char *error, size_t size)
{
    //  A set not given (NULL: no socket of that domain is CURVE) allows
    //  nobody
    self->client_keys = self->args->client_keys? zhashx_dup (self->args->client_keys): NULL;
    self->peer_keys = self->args->peer_keys? zhashx_dup (self->args->peer_keys): NULL;
    self->handler = zsock_new (ZMQ_REP);
    if (zsock_bind (self->handler, ZAP_ENDPOINT) < 0) {
        snprintf (error, size, "cannot bind the ZAP handler %s: %s", ZAP_ENDPOINT,
                  zmq_strerror (zmq_errno ()));
        return error;
    }
    zpoller_add (self->poller, self->handler);
    return NULL;
}

//  Answers one ZAP request (RFC 27): version, request id, domain, address,
//  routing id, mechanism, credentials (for CURVE, the client's 32-byte
//  public key). Anything but a CURVE request for a known domain by a key
//  of its set is refused; every request gets a reply (a REP must answer).
static void
s_answer (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    zframe_t *version = zmsg_pop (request);
    zframe_t *sequence = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key [41] = "";
    bool curve = version && zframe_streq (version, "1.0") && sequence && domain && mechanism
              && streq (mechanism, "CURVE") && credentials && zframe_size (credentials) == 32;
    if (curve)
        zmq_z85_encode (key, zframe_data (credentials), 32);
    zhashx_t *keys = !curve? NULL
                   : streq (domain, ZKV_ZAP_CLIENT)? self->client_keys
                   : streq (domain, ZKV_ZAP_PEER)? self->peer_keys: NULL;
    bool allowed = keys && zkv_keys_has (keys, key);
    if (!allowed && self->refused++ % 1000 == 0)
        zsys_warning ("zap: refused %s key %s from %s on domain %s (%llu refused so far)",
                      mechanism? mechanism: "?", *key? key: "-", address? address: "?",
                      domain? domain: "?", (unsigned long long) self->refused);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (sequence)
        zmsg_append (reply, &sequence);
    else
        zmsg_addstr (reply, "");
    zmsg_addstr (reply, allowed? "200": "400");
    zmsg_addstr (reply, allowed? "OK": "No access");
    zmsg_addstr (reply, allowed? key: "");     //  User-Id
    zmsg_addstr (reply, "");                    //  no metadata
    zmsg_send (&reply, self->handler);
    zframe_destroy (&version);
    zframe_destroy (&sequence);
    zframe_destroy (&identity);
    zframe_destroy (&credentials);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

static self_t *
s_self_new (zsock_t *pipe, zkv_zap_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->poller = zpoller_new (pipe, NULL);
    //  Signals do not stop it: main does, once the sockets it guards closed
    zpoller_set_nonstop (self->poller, true);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy (&self->poller);
    if (self->handler)
        zsock_unbind (self->handler, ZAP_ENDPOINT);
    zsock_destroy (&self->handler);
    zhashx_destroy (&self->client_keys);
    zhashx_destroy (&self->peer_keys);
    free (self);
    *self_p = NULL;
}

void
zkv_zap_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_zap_args_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command)
                break;
            if (streq (command, "START")) {
                char error [256];
                const char *failed = s_start (self, error, sizeof error);
                zstr_send (pipe, failed? failed: "OK");
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("zap: invalid command '%s'", command);
            zstr_free (&command);
        }
        else
        if (which && which == self->handler)
            s_answer (self);
    }
    s_self_destroy (&self);
}
