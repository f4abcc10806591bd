#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include "CPcapThread.h"

int cpcap_set_thread_name(const char *name) {
    char shortened[16];
    strncpy(shortened, name, sizeof shortened - 1);
    shortened[sizeof shortened - 1] = '\0';
    return pthread_setname_np(pthread_self(), shortened);
}
