/** The built-in tools with tools.enableReal on, in registration order: the one list tests pin. */
export const builtInTools = ["read_file", "list_directory", "search_files", "write_file", "execute_command", "git_status", "docker_ps", "fetch_url", "api_call"]
