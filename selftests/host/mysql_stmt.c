// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A MariaDB client of server-side prepared statements (COM_STMT_PREPARE,
 * COM_STMT_EXECUTE with binary result sets, COM_STMT_CLOSE), for the
 * protocol tests (test_protos.py):
 *
 *   mysql_stmt PORT SELECTS FAILS
 *
 * connects to 127.0.0.1:PORT as root, creates kerno.t with ten rows
 * (COM_QUERY), prepares a SELECT by key and executes it SELECTS times
 * (fetching each row), prepares an INSERT and executes it FAILS times with a
 * key that exists (error 1062 each time). Prints "selects N rows R fails F"
 * and exits 0 when every step went as planned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mysql.h>

static int fail(MYSQL *db, const char *what)
{
	fprintf(stderr, "mysql_stmt: %s: %s\n", what, mysql_error(db));
	return 1;
}

/* The same, for the functions that return a count. */
static long fail_count(MYSQL *db, const char *what)
{
	fail(db, what);
	return -1;
}

static int setup(MYSQL *db)
{
	static const char *const sql[] = {
		"CREATE DATABASE kerno",
		"CREATE TABLE t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO t VALUES (0,0),(1,3),(2,6),(3,9),(4,12),(5,15),(6,18),(7,21),(8,24),(9,27)",
	};

	if (mysql_query(db, sql[0]) || mysql_select_db(db, "kerno") || mysql_query(db, sql[1]) ||
	    mysql_query(db, sql[2]))
		return fail(db, "setup");
	return 0;
}

/* Executes SELECT v FROM t WHERE id = ? n times; returns the rows fetched, -1 on error. */
static long selects(MYSQL *db, long n)
{
	static const char q[] = "SELECT v FROM t WHERE id = ?";
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND param, result;
	int id = 0, v = 0;
	long i, rows = 0;

	if (!st || mysql_stmt_prepare(st, q, sizeof(q) - 1))
		return fail_count(db, "prepare select");
	memset(&param, 0, sizeof(param));
	param.buffer_type = MYSQL_TYPE_LONG;
	param.buffer = &id;
	memset(&result, 0, sizeof(result));
	result.buffer_type = MYSQL_TYPE_LONG;
	result.buffer = &v;
	if (mysql_stmt_bind_param(st, &param) || mysql_stmt_bind_result(st, &result))
		return fail_count(db, "bind");
	for (i = 0; i < n; i++) {
		id = (int)(i % 10);
		if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
			return fail_count(db, "execute select");
		while (!mysql_stmt_fetch(st)) {
			if (v != id * 3)
				return fail_count(db, "wrong row");
			rows++;
		}
		mysql_stmt_free_result(st);
	}
	mysql_stmt_close(st);
	return rows;
}

/* Executes INSERT INTO t VALUES (?, ?) n times with an existing key; returns the 1062 errors. */
static long duplicates(MYSQL *db, long n)
{
	static const char q[] = "INSERT INTO t VALUES (?, ?)";
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND params[2];
	int id = 1, v = 0;
	long i, errors = 0;

	if (!st || mysql_stmt_prepare(st, q, sizeof(q) - 1))
		return fail_count(db, "prepare insert");
	memset(params, 0, sizeof(params));
	params[0].buffer_type = MYSQL_TYPE_LONG;
	params[0].buffer = &id;
	params[1].buffer_type = MYSQL_TYPE_LONG;
	params[1].buffer = &v;
	if (mysql_stmt_bind_param(st, params))
		return fail_count(db, "bind insert");
	for (i = 0; i < n; i++)
		if (mysql_stmt_execute(st) && mysql_stmt_errno(st) == 1062)
			errors++;
	mysql_stmt_close(st);
	return errors;
}

int main(int argc, char **argv)
{
	MYSQL *db = mysql_init(NULL);
	long n_select, n_fail, rows, errors;
	my_bool no = 0;

	if (argc != 4 || !db) {
		fprintf(stderr, "usage: mysql_stmt PORT SELECTS FAILS\n");
		return 2;
	}
	n_select = atol(argv[2]);
	n_fail = atol(argv[3]);
	mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &no);
	mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
	if (!mysql_real_connect(db, "127.0.0.1", "root", NULL, NULL, (unsigned int)atoi(argv[1]),
				NULL, 0))
		return fail(db, "connect");
	if (setup(db))
		return 1;
	rows = selects(db, n_select);
	errors = duplicates(db, n_fail);
	printf("selects %ld rows %ld fails %ld\n", n_select, rows, errors);
	mysql_close(db);
	return rows == n_select && errors == n_fail ? 0 : 1;
}
