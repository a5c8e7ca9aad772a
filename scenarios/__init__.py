"""The Locust shell: users that start and stop streams. The only package that imports locust."""
