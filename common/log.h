/* log.h - one line per event, to stderr (or the journal through stderr). */
#ifndef BEVIS_LOG_H
#define BEVIS_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define MUSTCHECK __attribute__((warn_unused_result))
#define NORETURN __attribute__((noreturn))

void log_init(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
/* Returns -1 when name is not a level name. */
int log_level_parse(const char *name);
enum log_level log_get_level(void);

/* log_warn and fatal append strerror(errno); the x variants do not. */
void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;
void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;

#endif
