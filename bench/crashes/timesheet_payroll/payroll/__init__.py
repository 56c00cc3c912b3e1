"""Weekly payroll from approved timesheets."""
