/* buf: being written */
