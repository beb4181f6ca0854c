/* cmd_package.h -- `tillpipe plugin keygen|pack|verify|install|remove`:
 * signed plugin packages (pipeline/package.h), dispatched by `tillpipe
 * plugin` (cmd_plugin.c). */
#ifndef TP_CMD_PACKAGE_H
#define TP_CMD_PACKAGE_H

/* 1 when `sub` is one of the package subcommands, else 0. */
int tp__plugin_package_sub(const char *sub);

/* Run one: argv[0] is the subcommand ("keygen", ...), as `plugin` passes
 * its own arguments on.  Returns the exit status (cli.h). */
int tp__cmd_plugin_package(int argc, char **argv);

#endif
