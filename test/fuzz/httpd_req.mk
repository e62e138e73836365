# The httpd appliance's request semantics (httpd_http.c, httpd_head.c):
# request targets, Range and conditional header values, the response
# heads they lead to.
FUZZ_TARGETS += httpd_req
FUZZ_SRC_httpd_req := src/apps/httpd_http.c src/apps/httpd_head.c
FUZZ_ARGS_httpd_req := -max_len=4096
FUZZ_TIME_httpd_req := 20
