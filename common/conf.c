/* conf: being written */
