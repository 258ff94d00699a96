DROP TABLE login_failure_windows;
