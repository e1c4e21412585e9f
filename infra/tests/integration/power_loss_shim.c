/*
 * A power-loss model for `local_power_loss.rs`, loaded into a child process with LD_PRELOAD.
 *
 * After a power loss a file holds at least what it held when it was last fsynced; anything
 * written since may or may not be there. This shim records the worst case: every time a
 * file directly inside $POWER_LOSS_WATCH is fsynced (fsync or fdatasync, from SQLite or from
 * Rust's File::sync_data), its whole content is copied to $POWER_LOSS_IMAGE under the same
 * name, before the real fsync runs. Writes (write, pwrite, pwrite64, ftruncate) and these
 * copies hold one lock, so a copy holds exactly the writes that returned before the fsync
 * was called, and none made while it is copied. The image directory is then what the disk
 * would hold had the power gone out at that moment, for every file at once: the test opens
 * it as a state directory. Files never fsynced (SQLite's -shm index) are not in it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t n) {
    pthread_mutex_lock(&lock);
    ssize_t r = REAL(write)(fd, buf, n);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    pthread_mutex_lock(&lock);
    ssize_t r = REAL(pwrite)(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
    pthread_mutex_lock(&lock);
    ssize_t r = REAL(pwrite64)(fd, buf, n, off);
    pthread_mutex_unlock(&lock);
    return r;
}

int ftruncate(int fd, off_t len) {
    pthread_mutex_lock(&lock);
    int r = REAL(ftruncate)(fd, len);
    pthread_mutex_unlock(&lock);
    return r;
}

int ftruncate64(int fd, off64_t len) {
    pthread_mutex_lock(&lock);
    int r = REAL(ftruncate64)(fd, len);
    pthread_mutex_unlock(&lock);
    return r;
}

/* Copies fd's file to the image if it is a regular file directly inside the watched dir.
 * Called with the lock held. Any failure aborts: a test must not pass on a partial image. */
static void copy_to_image(int fd) {
    const char *watch = getenv("POWER_LOSS_WATCH");
    const char *image = getenv("POWER_LOSS_IMAGE");
    if (!watch || !image) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    if (len < 0) return;
    path[len] = 0;
    size_t wl = strlen(watch);
    if (strncmp(path, watch, wl) != 0 || path[wl] != '/' || strchr(path + wl + 1, '/')) return;
    char tmp[PATH_MAX], dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", image, path + wl + 1);
    snprintf(tmp, sizeof tmp, "%s.copying", dest);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) abort();
    static char buf[1 << 16];
    for (off_t at = 0; at < st.st_size;) {
        ssize_t got = pread(fd, buf, sizeof buf, at);
        if (got <= 0) abort();
        for (ssize_t done = 0; done < got;) {
            ssize_t w = REAL(write)(out, buf + done, got - done);
            if (w <= 0) abort();
            done += w;
        }
        at += got;
    }
    close(out);
    if (rename(tmp, dest) != 0) abort();
}

int fsync(int fd) {
    pthread_mutex_lock(&lock);
    copy_to_image(fd);
    pthread_mutex_unlock(&lock);
    return REAL(fsync)(fd);
}

int fdatasync(int fd) {
    pthread_mutex_lock(&lock);
    copy_to_image(fd);
    pthread_mutex_unlock(&lock);
    return REAL(fdatasync)(fd);
}
