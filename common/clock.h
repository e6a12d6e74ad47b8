/* clock: being written */
