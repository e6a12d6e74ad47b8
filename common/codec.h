/* codec: being written */
